package market

import (
	"fmt"
	"time"

	"github.com/dsn-project/dsn"
)

// Candidate is a peer that might hold a shard, with what the client knows
// of it. Pick takes candidates ordered by closeness to the shard's key
// (Rank), closest first.
type Candidate struct {
	Peer dsn.PeerID
	// Ask is the peer's current ask, nil if none is known. The caller
	// checks that its Provider key is the one Peer's identity embeds.
	Ask *Ask
	// Rep is the client's view of the peer's audit record.
	Rep Reputation
	// Subnets are the networks (Subnet) of the addresses the peer is
	// reached on; none when unknown, which clashes with nothing.
	Subnets []string
}

// Skip says why a candidate closer to a shard's key than the one chosen
// was passed over, for logs.
type Skip struct {
	Shard  int
	Peer   dsn.PeerID
	Reason error // wraps one of the skip reasons: ErrNoAsk, ErrAskExpired, ...
}

func (s Skip) String() string { return fmt.Sprintf("shard %d: skip %s: %v", s.Shard, s.Peer, s.Reason) }

// Segment is what one segment's placement has taken so far: providers,
// their networks, how many are unvetted. The zero value is a segment
// with nothing placed. It is not safe for concurrent use.
type Segment struct {
	taken    map[dsn.PeerID]bool
	nets     map[string]int
	unvetted int
}

// Take records that c holds a shard of the segment: after a Pick, or for
// a shard already placed (a repair places the missing shards around the
// healthy ones).
func (s *Segment) Take(c Candidate) {
	if s.taken == nil {
		s.taken, s.nets = make(map[dsn.PeerID]bool), make(map[string]int)
	}
	if s.taken[c.Peer] {
		return
	}
	s.taken[c.Peer] = true
	for _, n := range c.Subnets {
		s.nets[n]++
	}
	if !c.Rep.Vetted {
		s.unvetted++
	}
}

// Release undoes Take for a provider that refused or failed the upload,
// so another shard may use its place. The caller leaves it out of that
// shard's candidates from then on.
func (s *Segment) Release(c Candidate) {
	if !s.taken[c.Peer] {
		return
	}
	delete(s.taken, c.Peer)
	for _, n := range c.Subnets {
		if s.nets[n]--; s.nets[n] <= 0 {
			delete(s.nets, n)
		}
	}
	if !c.Rep.Vetted {
		s.unvetted--
	}
}

// Holds reports whether p holds a shard of the segment.
func (s *Segment) Holds(p dsn.PeerID) bool { return s.taken[p] }

// refuse returns why c may not take a shard of the segment, or nil.
func (s *Segment) refuse(c Candidate, limits ClientLimits, shardSize int64, now time.Time) error {
	switch {
	case s.taken[c.Peer]:
		return ErrTaken
	case c.Ask == nil:
		return ErrNoAsk
	}
	if err := c.Ask.Fits(limits, shardSize, now); err != nil {
		return err
	}
	if sc := c.Rep.Score(); !(sc >= limits.MinScore) {
		return fmt.Errorf("%w: score %.4f, minimum %.4f", ErrLowReputation, sc, limits.MinScore)
	}
	if !c.Rep.Vetted && s.unvetted >= limits.MaxUnvetted {
		return fmt.Errorf("%w: %d passed audits, segment has %d unvetted, limit %d",
			ErrUnvettedLimit, c.Rep.Passed, s.unvetted, limits.MaxUnvetted)
	}
	return nil
}

// clash returns a network of c the segment already uses, or "".
func (s *Segment) clash(c Candidate) string {
	for _, n := range c.Subnets {
		if s.nets[n] > 0 {
			return n
		}
	}
	return ""
}

// Pick chooses shard's provider from cands (closest first) and takes it:
// the closest acceptable candidate on a network the segment does not use
// yet, or, when every acceptable one shares a network with the segment,
// the closest acceptable one (PickSpread's rule). A candidate is
// acceptable when it holds no other shard of the segment, its ask fits
// limits for a shard of shardSize bytes at now, its score is at least
// limits.MinScore, and, if unvetted, the segment has fewer than
// limits.MaxUnvetted unvetted providers. skips gives the reason for every
// candidate closer than the one chosen (all of them when none is); err
// wraps ErrNoCandidate when none is acceptable.
func (s *Segment) Pick(shard int, cands []Candidate, limits ClientLimits, shardSize int64, now time.Time) (c Candidate, skips []Skip, err error) {
	reasons := make([]error, len(cands))
	idx := make([]int, len(cands))
	for i := range idx {
		idx[i] = i
	}
	p, ok := PickSpread(idx,
		func(i int) bool {
			reasons[i] = s.refuse(cands[i], limits, shardSize, now)
			return reasons[i] != nil
		},
		func(i int) bool { return s.clash(cands[i]) != "" })
	end := len(cands)
	if ok {
		end = p
	}
	for i := range end {
		r := reasons[i]
		if r == nil {
			r = fmt.Errorf("%w: %s", ErrSameSubnet, s.clash(cands[i]))
		}
		skips = append(skips, Skip{Shard: shard, Peer: cands[i].Peer, Reason: r})
	}
	if !ok {
		return Candidate{}, skips, fmt.Errorf("shard %d: %w among %d candidates", shard, ErrNoCandidate, len(cands))
	}
	s.Take(cands[p])
	return cands[p], skips, nil
}

// Select places the shards of one segment in shard order (data shards,
// then parity), as docs/placement.md describes: cands[i] are shard i's
// candidates, closest to its key first. It returns the provider of each
// shard and the skips of all of them. When a shard has no acceptable
// candidate it stops there with an error wrapping ErrNoCandidate, and
// picks holds the shards chosen before it.
func Select(cands [][]Candidate, limits ClientLimits, shardSize int64, now time.Time) (picks []Candidate, skips []Skip, err error) {
	var seg Segment
	picks = make([]Candidate, 0, len(cands))
	for i, cs := range cands {
		c, sk, err := seg.Pick(i, cs, limits, shardSize, now)
		skips = append(skips, sk...)
		if err != nil {
			return picks, skips, fmt.Errorf("select: %w", err)
		}
		picks = append(picks, c)
	}
	return picks, skips, nil
}
