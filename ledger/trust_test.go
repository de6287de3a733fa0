package ledger

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/market"
)

// providerAccount returns the provider's account in l's balance.
func providerAccount(t *testing.T, l *Log) Account {
	t.Helper()
	accts, err := l.Balance()
	if err != nil {
		t.Fatalf("Balance() = %v", err)
	}
	for _, a := range accts {
		if a.Party == provider {
			return a
		}
	}
	t.Fatalf("Balance() = %+v, no account for the provider", accts)
	return Account{}
}

// Attack: the client, an auditor of its deal and the party a penalty
// pays, names its own amount. The rules take only the amount the deal's
// terms give for the epoch.
func TestAttackPenaltyAmount(t *testing.T) {
	// newDeal: 1 GiB at 1,000,000 per GiB-month. An hour is worth 1388
	// (testPenalty = 2776); two hours 2777 (⌊2777.7⌋), so 5554.
	tests := []struct {
		name          string
		epoch, secs   uint64
		amount        uint64
		want          error
		wantPenalties uint64
	}{
		{"the largest amount", 1000, hour, MaxAmount, ErrTerms, 0},
		{"the deal's collateral", 1000, hour, testCollateral, ErrTerms, 0},
		{"one above", 1000, hour, testPenalty + 1, ErrTerms, 0},
		{"one below", 1000, hour, testPenalty - 1, ErrTerms, 0},
		{"nothing", 1000, hour, 0, ErrTerms, 0},
		{"an hour's amount for two hours", 500, 2 * hour, testPenalty, ErrTerms, 0},
		{"the terms' amount", 1000, hour, testPenalty, nil, testPenalty},
		{"the terms' amount for two hours", 500, 2 * hour, 5554, nil, 5554},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, t.TempDir(), providerKey)
			appendAll(t, l, newDeal(t, testShard, dealFrom, dealTo))
			p := &Penalty{Provider: provider, Client: client, Auditor: client, Shard: testShard, Epoch: tt.epoch, EpochSeconds: tt.secs, Outcome: OutcomeFail, Amount: tt.amount}
			must(t, p.Sign(clientKey))
			if tt.want != nil {
				wantRefused(t, l, p, tt.want)
			} else {
				appendAll(t, l, p)
			}
			if got := providerAccount(t, l).Penalties; got != tt.wantPenalties {
				t.Errorf("provider Penalties = %d after a penalty of %d, want %d", got, tt.amount, tt.wantPenalties)
			}
			if _, err := l.Verify(context.Background()); err != nil {
				t.Errorf("Verify = %v", err)
			}
		})
	}
}

// The amount the rules require is the one the market and the auditing
// node compute (market.EpochPenalty; node/book.Penalty is the same
// formula), over the whole range of terms.
func TestPenaltyAmountAgreesWithMarket(t *testing.T) {
	type terms struct{ size, price, secs uint64 }
	cases := []terms{
		{1, 1, 1},
		{1 << 30, 1_000_000, hour},
		{1 << 30, 1_000_000, 2 * hour},
		{dsn.MaxShardSize, MaxPrice, MaxEpochSeconds},
		{dsn.MaxShardSize, MaxPrice, 1},
		{1, MaxPrice, MaxEpochSeconds},
		{64 << 20, 3, 30},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		cases = append(cases, terms{rng.Uint64N(dsn.MaxShardSize) + 1, rng.Uint64N(MaxPrice + 1), rng.Uint64N(MaxEpochSeconds) + 1})
	}
	for _, c := range cases {
		d := &Deal{Size: c.size, PricePerGiBMonth: c.price}
		got := PenaltyAmount(d, c.secs)
		for _, o := range []market.AuditOutcome{market.AuditFail, market.AuditMissed} {
			want, err := market.EpochPenalty(market.DealTerms{Size: c.size, PricePerGiBMonth: c.price, EpochSeconds: c.secs}, o)
			if err != nil {
				t.Fatalf("market.EpochPenalty(%+v, %v) = %v", c, o, err)
			}
			if got != want {
				t.Errorf("PenaltyAmount(size %d, price %d, %d s) = %d, market.EpochPenalty(%v) = %d", c.size, c.price, c.secs, got, o, want)
			}
		}
		if got < 1 || got > MaxAmount {
			t.Errorf("PenaltyAmount(size %d, price %d, %d s) = %d, outside [1, %d]", c.size, c.price, c.secs, got, int64(MaxAmount))
		}
	}
}

// Attack: penalties of the largest amount in one-second epochs, once the
// first audit fixed the epoch at a second; 2^16 of them would overflow
// the provider's 64-bit penalty sum and make Balance fail for good. None
// is accepted; the same penalties at the terms' amount are, and the
// balance adds up.
func TestAttackPenaltiesOverflowBalance(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	d := newDeal(t, testShard, dealFrom, dealTo)
	appendAll(t, l, d)
	const n = 1 << 10
	batch := make([]Entry, 0, n)
	for i := range uint64(n) {
		batch = append(batch, penaltyOf(t, testShard, dealFrom+i, 1, MaxAmount))
	}
	if _, err := l.AppendBatch(batch); !errors.Is(err, ErrTerms) {
		t.Fatalf("AppendBatch(%d penalties of %d) = %v, want %v", n, uint64(MaxAmount), err, ErrTerms)
	}
	want := PenaltyAmount(d, 1) // a second of 1 GiB is worth under a nano-unit: 1
	if want != 1 {
		t.Fatalf("PenaltyAmount(one second) = %d, want 1", want)
	}
	batch = batch[:0]
	for i := range uint64(n) {
		batch = append(batch, penaltyOf(t, testShard, dealFrom+i, 1, want))
	}
	if _, err := l.AppendBatch(batch); err != nil {
		t.Fatalf("AppendBatch(%d penalties of %d) = %v", n, want, err)
	}
	if got := providerAccount(t, l).Penalties; got != n*want {
		t.Errorf("provider Penalties = %d after %d penalties of %d, want %d", got, n, want, n*want)
	}
}

// MaxAccountTotal keeps every Account field, and every sum Balance
// makes, inside 64 bits.
func TestAccountTotalFits(t *testing.T) {
	if uint64(MaxAccountTotal) > math.MaxUint64 || accountLimit != MaxAccountTotal {
		t.Fatalf("MaxAccountTotal = %d, accountLimit = %d", uint64(MaxAccountTotal), accountLimit)
	}
	// The largest credit, penalty, forfeit and receipt each add less than
	// the bound, so a single entry cannot wrap a total.
	d := &Deal{Size: dsn.MaxShardSize, PricePerGiBMonth: MaxPrice, PricePerGiB: MaxPrice}
	for _, v := range []uint64{epochValue(d, MaxEpochSeconds, true), PenaltyAmount(d, MaxEpochSeconds), MaxAmount, dsn.MaxShardSize + dsn.MaxShardSize*MaxPrice/GiB} {
		if v >= MaxAccountTotal/2 {
			t.Errorf("one entry may add %d to an account, not far enough below %d", v, uint64(MaxAccountTotal))
		}
	}
}

// withAccountLimit lowers the bound on account totals for one test, so
// that reaching it takes a few entries rather than billions of units.
func withAccountLimit(t *testing.T, limit uint64) {
	old := accountLimit
	accountLimit = limit
	t.Cleanup(func() { accountLimit = old })
}

// A party's account total is bounded: the entry that would take it past
// the bound is refused whatever its kind, and everything accepted before
// it still balances.
func TestAccountLimit(t *testing.T) {
	// Credits of an hour add 1389 (1388.9 rounded up), penalties 2776,
	// receipts of 2^29 bytes 2^29 + 5000, the forfeit 5,000,000.
	const limit = testCollateral + 3*testPenalty + 2*1389
	withAccountLimit(t, limit)
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, newDeal(t, testShard, dealFrom, dealTo), newCredit(t, testShard, 1000), newCredit(t, testShard, 1001))
	appendAll(t, l, newPenalty(t, testShard, 1002), newPenalty(t, testShard, 1003), newPenalty(t, testShard, 1004))
	appendAll(t, l, newEnd(t, testShard, dealFrom, 1005*hour, EndFailed, testCollateral, clientKey))
	// Now at the limit, to the nano-unit.
	wantRefused(t, l, newReceipt(t, testShard, 1, 1, 1), ErrTerms)
	renewal := newDeal(t, testShard, dealTo, dealTo+1000*hour)
	appendAll(t, l, renewal) // a deal adds nothing
	wantRefused(t, l, newCredit(t, testShard, 2000), ErrTerms)
	wantRefused(t, l, newPenalty(t, testShard, 2000), ErrTerms)
	a := providerAccount(t, l)
	if a.SpaceEarned+a.Penalties > limit {
		t.Errorf("provider SpaceEarned + Penalties = %d + %d, past the limit %d", a.SpaceEarned, a.Penalties, uint64(limit))
	}
	if _, err := l.Verify(context.Background()); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

// Whatever sequence of entries a log accepts, Balance succeeds and no
// field of any account passes the bound on the party's total.
func TestBalanceNeverFailsOnAcceptedEntries(t *testing.T) {
	const limit = 1 << 26
	withAccountLimit(t, limit)
	l := openLog(t, t.TempDir(), providerKey)
	rng := rand.New(rand.NewPCG(3, 4))
	shards := []dsn.ShardID{testShard, shard2}
	accepted, bounded := 0, 0
	for i := range 600 {
		sh := shards[rng.IntN(2)]
		epoch := uint64(1000 + rng.IntN(1100))
		var e Entry
		switch rng.IntN(6) {
		case 0:
			from := uint64(dealFrom + rng.IntN(3)*1000*hour)
			e = newDeal(t, sh, from, from+1000*hour)
		case 1:
			e = newReceipt(t, sh, byte(rng.IntN(8)), uint64(i), uint64(rng.IntN(1<<30)))
		case 2:
			e = newCredit(t, sh, epoch)
		case 3:
			e = newPenalty(t, sh, epoch)
		case 4:
			e = penaltyOf(t, sh, epoch/2, 2*hour, 5554) // two hours, at the terms' amount
		case 5:
			from := uint64(dealFrom + rng.IntN(3)*1000*hour)
			e = newEnd(t, sh, from, from+uint64(rng.IntN(1000))*hour, EndFailed, testCollateral, clientKey)
		}
		_, err := l.Append(e)
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, ErrTerms) && strings.Contains(err.Error(), "past the bound"):
			bounded++
		}
	}
	if accepted < 100 || bounded == 0 {
		t.Fatalf("%d of 600 entries accepted, %d refused at the bound: the test exercises too little", accepted, bounded)
	}
	accts, err := l.Balance()
	if err != nil {
		t.Fatalf("Balance() after %d accepted entries = %v", accepted, err)
	}
	for _, a := range accts {
		for _, v := range []uint64{a.SpaceEarned, a.BytesServed, a.BandwidthEarned, a.Penalties, a.SpaceOwed, a.BandwidthOwed, a.Compensation} {
			if v > limit {
				t.Errorf("account %s = %+v: a field is past the limit %d", a.Party.Short(), a, limit)
			}
		}
	}
}

// Attack: a deal-named auditor credits deal A once for a 10-day epoch
// run on across nine 1-day renewals, then credits each renewal hour by
// hour for the same days. One epoch length holds across every deal an
// epoch runs on into, so the same span is never credited twice.
func TestAttackDoubleCreditAcrossRenewals(t *testing.T) {
	const day = 24 * hour
	start := uint64(400 * day)
	deals := func(t *testing.T) *Log {
		l := openLog(t, t.TempDir(), providerKey)
		for i := range uint64(11) {
			appendAll(t, l, newDeal(t, testShard, start+i*day, start+(i+1)*day))
		}
		return l
	}
	hourly := func(t *testing.T, d uint64) *Credit { return creditOf(t, testShard, (start+d*day)/hour, hour) }
	long := creditOf(t, testShard, start/(10*day), 10*day)

	t.Run("long epoch first", func(t *testing.T) {
		l := deals(t)
		appendAll(t, l, long)
		for d := uint64(1); d < 10; d++ {
			wantRefused(t, l, hourly(t, d), ErrTerms)
		}
		// The renewal after the epoch keeps its own choice.
		appendAll(t, l, hourly(t, 10))
		const want = (10*day + hour) * 1_000_000 / (30 * day)
		if got := providerAccount(t, l).SpaceEarned; got != want {
			t.Errorf("provider SpaceEarned = %d, want %d: 10 days and an hour of 1 GiB at 1,000,000 per GiB-month", got, want)
		}
		if _, err := l.Verify(context.Background()); err != nil {
			t.Errorf("Verify = %v", err)
		}
	})
	t.Run("hourly credits first", func(t *testing.T) {
		l := deals(t)
		appendAll(t, l, hourly(t, 5))
		wantRefused(t, l, long, ErrTerms)
	})
}

// Attack: a credit run on through a renewal that has ended before the
// epoch does; and an End that would cut short an epoch already run on
// into its deal.
func TestAttackCreditPastRenewalEnd(t *testing.T) {
	const day = 24 * hour
	start := uint64(400 * day)
	long := creditOf(t, testShard, start/(20*day), 20*day) // [start, start+20 days)
	deals := func(t *testing.T) *Log {
		l := openLog(t, t.TempDir(), providerKey)
		appendAll(t, l, newDeal(t, testShard, start, start+day), newDeal(t, testShard, start+day, start+30*day))
		return l
	}
	t.Run("renewal cancelled at its start", func(t *testing.T) {
		l := deals(t)
		appendAll(t, l, newEnd(t, testShard, start+day, start+day, EndCancelled, 0, clientKey))
		wantRefused(t, l, long, ErrDealEnded)
	})
	t.Run("renewal cancelled within the epoch", func(t *testing.T) {
		l := deals(t)
		appendAll(t, l, newEnd(t, testShard, start+day, start+19*day, EndCancelled, 0, clientKey))
		wantRefused(t, l, long, ErrDealEnded)
	})
	t.Run("renewal cancelled at the epoch's end", func(t *testing.T) {
		l := deals(t)
		appendAll(t, l, newEnd(t, testShard, start+day, start+20*day, EndCancelled, 0, clientKey), long)
	})
	t.Run("end after the credit", func(t *testing.T) {
		l := deals(t)
		appendAll(t, l, long)
		wantRefused(t, l, newEnd(t, testShard, start+day, start+day, EndCancelled, 0, clientKey), ErrTerms)
		wantRefused(t, l, newEnd(t, testShard, start+day, start+20*day-1, EndCancelled, 0, clientKey), ErrTerms)
		appendAll(t, l, newEnd(t, testShard, start+day, start+20*day, EndCancelled, 0, clientKey))
		if _, err := l.Verify(context.Background()); err != nil {
			t.Errorf("Verify = %v", err)
		}
	})
}
