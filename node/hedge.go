package node

import (
	"sync"
	"time"

	"github.com/dsn-project/dsn"
)

// A retrieval asks every holder of a segment for its shard at once, so a
// holder that is slow or gone costs no round trip, but it reads the k
// data shards first and the parity shards only when they are needed: a
// parity holder is asked for the first hedgeProbe bytes of its shard, and
// for the rest once a gate opens. The gate opens when a data shard's
// fetch fails, when a data holder was slow earlier in the retrieval, or
// when the data shards take longer than hedgeFactor times what segments
// have taken (a hedged request, as in Dean and Barroso, "The Tail at
// Scale", CACM 2013). The first k shards that verify win either way.
// Reading all k+m at once, a retrieval moved (k+m)/k times the file over
// the network and off the providers' disks; with the gate it moves the k
// data shards and hedgeProbe bytes of each parity shard. Repair reads the
// same way, with the first k healthy shards in place of the data shards.
// hedgeMin and hedgeMax bound the wait, so that timer noise on a fast
// network does not hedge every segment, and a slow network never leaves
// parity streams idle for long: a gated fetch's deadline is extended by
// hedgeMax. Variables so that a test of what a read costs when nothing is
// slow can keep a loaded machine's pauses from hedging.
var (
	hedgeMin = 20 * time.Millisecond
	hedgeMax = 2 * time.Second
)

const (
	// hedgeFactor is how many times the usual time a segment's data
	// shards take before the parity shards are read too.
	hedgeFactor = 2
	// slowSegments is how many of its segments a holder that failed or
	// was hedged around has its parity read at once, before it is given
	// another chance: a pause (a collection, a busy disk) must not cost
	// the rest of a large file the parity reads, and a holder that stays
	// stalled costs one hedge delay in that many segments.
	slowSegments = 8
	// hedgeProbe is how much of a parity shard is read before the gate:
	// yamux's default stream window, enough to know its holder serves.
	hedgeProbe = 256 << 10
)

// hedge is what one retrieval has learned of its segments' fetches. A
// nil *hedge reads every shard at once.
type hedge struct {
	mu   sync.Mutex
	est  time.Duration      // smoothed time of unhedged segments; 0: none yet
	slow map[dsn.PeerID]int // segments left in which the peer counts as slow
}

func newHedge() *hedge { return &hedge{slow: make(map[dsn.PeerID]int)} }

// delay returns how long a segment whose primary shards (those read at
// once: a retrieval's data shards) are held by holders waits before
// reading its other shards, and false if it should read them at once:
// before any segment has been timed, or when one of the holders was slow
// or failed in its last slowSegments segments.
func (h *hedge) delay(holders []dsn.PeerID) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	slow := false
	for _, p := range holders {
		if n := h.slow[p]; n > 0 {
			slow = true
			if n == 1 {
				delete(h.slow, p)
			} else {
				h.slow[p] = n - 1
			}
		}
	}
	if slow || h.est == 0 {
		return 0, false
	}
	return min(max(hedgeFactor*h.est, hedgeMin), hedgeMax), true
}

// observe records that a segment's primary shards all arrived in d
// without the others being read early.
func (h *hedge) observe(d time.Duration) {
	if h == nil || d <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.est == 0 {
		h.est = d
	} else {
		h.est = (3*h.est + d) / 4
	}
}

// slowPeer records that p failed a fetch or was hedged around: the next
// slowSegments segments p holds data of read their parity at once.
func (h *hedge) slowPeer(p dsn.PeerID) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.slow[p] = slowSegments
}
