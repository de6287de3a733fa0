package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/node/daemon/api"
	"github.com/dsn-project/dsn/node/inproc"
	"github.com/dsn-project/dsn/node/shardstore/memstore"
	"github.com/dsn-project/dsn/proofs/compact"
)

// handlerTap keeps the audit handler a provider registers, so a test can
// put its own in front of it.
type handlerTap struct {
	*inproc.Transport
	audit dsn.StreamHandler
}

func (h *handlerTap) SetStreamHandler(p string, f dsn.StreamHandler) {
	if p == auditproto.Protocol {
		h.audit = f
	}
	h.Transport.SetStreamHandler(p, f)
}

// A provider that fails its combined proof and then answers none of the
// single-shard challenges is challenged several shards at a time, and
// what it leaves unanswered within its budget for the epoch counts as
// missed: the epoch's audit, which waits for every provider, goes on.
func TestStalledProviderDoesNotHoldTheEpoch(t *testing.T) {
	old := auditBudget
	auditBudget = func(time.Duration) time.Duration { return time.Second }
	t.Cleanup(func() { auditBudget = old })

	n := newTestNet(t, 5)
	tap := &handlerTap{Transport: n.net.Add("stalling")}
	st := memstore.New(0)
	t.Cleanup(func() { st.Close() })
	node.ServeProvider(tap, "", st, nil)
	var armed atomic.Bool
	var streams, inFlight, most atomic.Int64
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tap.Transport.SetStreamHandler(auditproto.Protocol, func(s dsn.Stream) {
		if !armed.Load() {
			tap.audit(s)
			return
		}
		if streams.Add(1) == 1 {
			_, _ = s.Write([]byte{0xff}) // a malformed combined proof: Fail
			_ = s.Close()
			return
		}
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		<-release // single-shard challenges: never answered
		_ = s.Reset()
	})
	d, crepo, _ := n.startDaemonWith(t, "client", func(c *Config) { c.Capacity = 0 }, Options{ProofKey: compact.NewKey([32]byte{1})})
	ctx := ctxT(t)
	c, err := api.Dial(ctx, crepo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	const files = 6
	for i := range files {
		in := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(in, bytes.Repeat([]byte{byte(i + 1)}, 64<<10), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := c.StoreFile(ctx, in, api.StoreOptions{K: 4, M: 2}, nil); err != nil {
			t.Fatal(err)
		}
	}
	armed.Store(true)
	sum, err := d.AuditEpoch(ctx, EpochOf(time.Now(), time.Hour))
	if err != nil {
		t.Fatalf("AuditEpoch = %+v, %v", sum, err)
	}
	if sum.Shards != files*6 || sum.Passed != files*5 || sum.Missed != files {
		t.Errorf("AuditEpoch = %+v; want %d shards, the stalling provider's %d missed and the other %d passed", sum, files*6, files, files*5)
	}
	if most.Load() < 2 {
		t.Errorf("at most %d single-shard challenge at a time to the stalling provider; want them several at once", most.Load())
	}
}

// Audits start on the Unix-time grid of epochs that EpochOf numbers, for
// any period, and never audit an epoch again when the clock goes back.
func TestNextEpoch(t *testing.T) {
	for _, period := range []time.Duration{7 * time.Second, time.Hour, 72 * time.Hour} {
		now := time.Unix(1_800_000_000, 123)
		epoch, start := nextEpoch(now, period, 0)
		if start.UnixNano()%int64(period) != 0 || !start.After(now) || start.Sub(now) > period {
			t.Errorf("nextEpoch(%v) starts at %v, want the next multiple of the period in Unix time after %v", period, start, now)
		}
		if EpochOf(start, period) != epoch {
			t.Errorf("nextEpoch(%v) = epoch %d starting at %v, but EpochOf(start) = %d", period, epoch, start, EpochOf(start, period))
		}
		// The clock set back by three periods after that epoch's audit.
		again, _ := nextEpoch(start.Add(-3*period), period, epoch)
		if again != epoch+1 {
			t.Errorf("nextEpoch(%v) after epoch %d with the clock set back = %d, want %d", period, epoch, again, epoch+1)
		}
	}
}
