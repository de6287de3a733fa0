package node

import (
	"testing"
	"time"
)

// A client that renews once an epoch renews a proven deal it still wants
// in one of the runs before the deal ends, whatever the epoch's length
// against the horizon: with 48-hour epochs and a day's horizon, the run
// before the end could fall outside the horizon and the next after the
// end, and the deal expired instead.
func TestRenewalOnceAnEpochRenewsBeforeTheEnd(t *testing.T) {
	for _, epoch := range []time.Duration{48 * time.Hour, 7 * 24 * time.Hour} {
		l := startLedgerNet(t, 6, false)
		ctx := ctxT(t)
		audits, _ := storeProven(t, l, testData(1<<20+7, 5))
		d, ok := l.ClientBook.Deal(audits[0].Provider, audits[0].ID)
		if !ok {
			t.Fatal("no deal for the stored shard")
		}
		end := time.Unix(int64(d.End), 0)
		dur := time.Duration(d.End-d.Start) * time.Second
		horizon := RenewHorizon(epoch, dur)
		// The last run before the end is less than an epoch before it;
		// the worst case is just under an epoch.
		var total Renewals
		for _, run := range []time.Time{end.Add(-epoch + time.Second), end.Add(time.Second)} {
			r, err := l.Client.RenewDeals(ctx, run, RenewOptions{Horizon: horizon})
			if err != nil {
				t.Fatal(err)
			}
			total.Renewed += r.Renewed
			total.Expired += r.Expired
		}
		if total.Renewed != len(audits) || total.Expired != 0 {
			t.Errorf("epoch %v, horizon %v: runs renewed %d and expired %d of %d proven deals; want all renewed", epoch, horizon, total.Renewed, total.Expired, len(audits))
		}
	}
}

func TestRenewHorizon(t *testing.T) {
	for _, c := range []struct{ interval, dur, want time.Duration }{
		{time.Hour, 30 * 24 * time.Hour, 24 * time.Hour},
		{48 * time.Hour, 30 * 24 * time.Hour, 96 * time.Hour},
		{2 * time.Second, 30 * time.Second, 7500 * time.Millisecond},
		{10 * time.Second, 30 * time.Second, 20 * time.Second},
	} {
		if got := RenewHorizon(c.interval, c.dur); got != c.want {
			t.Errorf("RenewHorizon(%v, %v) = %v, want %v", c.interval, c.dur, got, c.want)
		}
	}
}
