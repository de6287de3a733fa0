package slots

import "sync"

// Limiter hands out at most Total slots at once, and at most PerPeer of
// them to any one peer. The zero value is not usable; use New. A Limiter
// is safe for concurrent use.
type Limiter[P comparable] struct {
	mu      sync.Mutex
	total   int
	perPeer int
	used    int
	byPeer  map[P]int
}

// DefaultPerPeer is the per-peer bound New uses when perPeer is 0: a
// quarter of the slots, and at least 4, which is what one honest client
// runs with one provider at most (node's per-peer transfer limit).
func DefaultPerPeer(total int) int { return max(4, total/4) }

// New returns a Limiter of total slots, at most perPeer of them for any
// one peer; perPeer 0 means DefaultPerPeer(total), and a perPeer above
// total is total. total must be positive.
func New[P comparable](total, perPeer int) *Limiter[P] {
	if total <= 0 {
		panic("slots: total must be positive")
	}
	if perPeer <= 0 {
		perPeer = DefaultPerPeer(total)
	}
	return &Limiter[P]{total: total, perPeer: min(perPeer, total), byPeer: make(map[P]int)}
}

// Refusal says why Acquire refused a slot.
type Refusal int

const (
	// Granted means the slot was taken.
	Granted Refusal = iota
	// Full means every slot is taken.
	Full
	// PeerFull means the peer holds its share already.
	PeerFull
)

// Text is what a server's Busy reply says of a refusal: nothing when
// every slot is taken (Busy says enough), and that the peer holds its
// share when it does, so that it can tell a busy server from a limit of
// its own. what names the requests ("transfers", "requests").
func (r Refusal) Text(what string) string {
	if r == PeerFull {
		return "this peer has as many " + what + " in progress as it may have at once"
	}
	return ""
}

// Acquire takes a slot for p without waiting. Every Granted must be
// matched by one Release(p).
func (l *Limiter[P]) Acquire(p P) Refusal {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.byPeer[p] >= l.perPeer:
		return PeerFull
	case l.used >= l.total:
		return Full
	}
	l.used++
	l.byPeer[p]++
	return Granted
}

// Release gives back a slot p was granted.
func (l *Limiter[P]) Release(p P) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.byPeer[p]
	if !ok || l.used == 0 {
		panic("slots: Release without a matching Acquire")
	}
	if n == 1 {
		// Peers come and go: the map holds only those with slots.
		delete(l.byPeer, p)
	} else {
		l.byPeer[p] = n - 1
	}
	l.used--
}

// InUse returns the slots taken, in all and by p.
func (l *Limiter[P]) InUse(p P) (all, byPeer int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.used, l.byPeer[p]
}
