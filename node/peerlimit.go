package node

import (
	"context"
	"sync"

	"github.com/dsn-project/dsn"
)

// perPeerTransfers bounds the shard transfers a client runs with one peer
// at once, in both directions together. A store sends each peer at most one
// shard per segment and a retrieval asks it for one, so this is reached only
// when several segments are in flight; it keeps a client from piling every
// segment onto the same few peers.
const perPeerTransfers = 4

// peerLimiter hands out per-peer transfer slots.
type peerLimiter struct {
	mu    sync.Mutex
	slots map[dsn.PeerID]*peerSlots
}

type peerSlots struct {
	ch    chan struct{}
	users int // holders and waiters; the entry goes when it drops to 0
}

// acquire waits for a slot with p, or for ctx to end. The returned
// function gives the slot back.
func (l *peerLimiter) acquire(ctx context.Context, p dsn.PeerID) (func(), error) {
	l.mu.Lock()
	if l.slots == nil {
		l.slots = make(map[dsn.PeerID]*peerSlots)
	}
	s := l.slots[p]
	if s == nil {
		s = &peerSlots{ch: make(chan struct{}, perPeerTransfers)}
		l.slots[p] = s
	}
	s.users++
	l.mu.Unlock()
	done := func() {
		l.mu.Lock()
		if s.users--; s.users == 0 {
			delete(l.slots, p)
		}
		l.mu.Unlock()
	}
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch; done() }, nil
	case <-ctx.Done():
		done()
		return nil, context.Cause(ctx)
	}
}
