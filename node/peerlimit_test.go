package node

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPeerLimiterBoundsTransfersPerPeer(t *testing.T) {
	var l peerLimiter
	var inA, maxA, inB atomic.Int64
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for range 3 * perPeerTransfers {
		wg.Go(func() {
			release, err := l.acquire(context.Background(), "a")
			if err != nil {
				t.Error(err)
				return
			}
			n := inA.Add(1)
			for {
				m := maxA.Load()
				if n <= m || maxA.CompareAndSwap(m, n) {
					break
				}
			}
			<-gate
			inA.Add(-1)
			release()
		})
	}
	// Another peer is not held up by a's queue.
	release, err := l.acquire(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	inB.Add(1)
	release()
	waitFor(t, func() bool { return inA.Load() == perPeerTransfers })
	close(gate)
	wg.Wait()
	if got := maxA.Load(); got != perPeerTransfers {
		t.Fatalf("at most %d transfers with one peer ran at once, want %d", got, perPeerTransfers)
	}
	if len(l.slots) != 0 {
		t.Fatalf("%d peers still tracked after every transfer ended", len(l.slots))
	}
}

func TestPeerLimiterHonoursContext(t *testing.T) {
	var l peerLimiter
	var releases []func()
	for range perPeerTransfers {
		r, err := l.acquire(context.Background(), "a")
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire past the limit = %v, want the context's deadline", err)
	}
	for _, r := range releases {
		r()
	}
	if len(l.slots) != 0 {
		t.Fatalf("%d peers still tracked", len(l.slots))
	}
}
