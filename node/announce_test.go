package node

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/dsn-project/dsn"
)

// gatedRouter records the shards announced through it, in the order the
// announcements start, and holds each until it takes a token from gate
// (nil: none).
type gatedRouter struct {
	dsn.Router
	gate chan struct{}
	mu   sync.Mutex
	ids  []dsn.ShardID
}

func (r *gatedRouter) Provide(ctx context.Context, id dsn.ShardID) error {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *gatedRouter) announced() []dsn.ShardID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

type nopStore struct{ dsn.ShardStore }

func (nopStore) Close() error { return nil }

func shardIDs(n int) []dsn.ShardID {
	ids := make([]dsn.ShardID, n)
	for i := range ids {
		ids[i] = dsn.SumShard([]byte{byte(i), byte(i >> 8)})
	}
	return ids
}

// A re-announcement pass over more shards than the queue holds announces
// every one of them, however slow the DHT: it used to drop all but the
// first announceQueue when the announcing goroutines were busy, the same
// ones on every pass, so the other shards' provider records expired.
func TestReannounceReachesEveryShard(t *testing.T) {
	r := &gatedRouter{gate: make(chan struct{})}
	a := ProvidingStore(nopStore{}, r, nil)
	defer a.Close()
	ids := shardIDs(3 * announceQueue)
	ctx := ctxT(t)
	passDone := make(chan error)
	go func() {
		for _, id := range ids {
			if err := a.AnnounceWait(ctx, id); err != nil {
				passDone <- err
				return
			}
		}
		passDone <- nil
	}()
	// The DHT holds every announcement until all workers are busy.
	waitFor(t, func() bool { return len(r.announced()) == announceWorkers })
	close(r.gate)
	if err := <-passDone; err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(r.announced()) == len(ids) })
	got := r.announced()
	slices.SortFunc(got, func(a, b dsn.ShardID) int { return slices.Compare(a[:], b[:]) })
	want := slices.Clone(ids)
	slices.SortFunc(want, func(a, b dsn.ShardID) int { return slices.Compare(a[:], b[:]) })
	if !slices.Equal(got, want) {
		t.Fatal("the shards announced are not the shards re-announced")
	}
}

// A shard just taken in is announced before the re-announcements waiting,
// and a re-announcement pass ends when its context does.
func TestFreshShardsGoFirst(t *testing.T) {
	r := &gatedRouter{gate: make(chan struct{})}
	a := ProvidingStore(nopStore{}, r, nil)
	defer a.Close()
	again := shardIDs(100)
	ctx, cancel := context.WithCancel(ctxT(t))
	passDone := make(chan int)
	go func() {
		n := 0
		for _, id := range again {
			if a.AnnounceWait(ctx, id) != nil {
				break
			}
			n++
		}
		passDone <- n
	}()
	// Every worker holds a re-announcement, and the pass waits with the
	// next one when a shard comes in.
	waitFor(t, func() bool { return len(r.announced()) == announceWorkers })
	fresh := dsn.SumShard([]byte("just stored"))
	a.Announce(fresh)
	// One worker finishes: it must take the fresh shard, not the
	// re-announcement offered beside it.
	r.gate <- struct{}{}
	waitFor(t, func() bool { return len(r.announced()) > announceWorkers })
	if got := r.announced()[announceWorkers]; got != fresh {
		t.Errorf("announcement %d is %s, want the fresh shard %s", announceWorkers+1, got.Short(), fresh.Short())
	}
	cancel()
	if n := <-passDone; n != announceWorkers {
		t.Errorf("the pass handed over %d shards before it was cut short, want %d", n, announceWorkers)
	}
}
