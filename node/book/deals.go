package book

import (
	"fmt"
	"slices"
	"sort"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/market"
)

// DealInfo is a deal of the node's log and where it stands, as its
// entries fold through market.Transition: the deal entry accepts it, a
// credit passes an audit (the first one activates it), a penalty fails
// or misses one, a deal of the same shard and parties starting at its
// End renews it, and an End expires, fails or cancels it.
type DealInfo struct {
	Deal  *ledger.Deal
	State market.DealState
	// End is the entry that ended the deal; nil while it runs.
	End *ledger.End
	// Run is the penalties logged since the deal's last credit, the
	// last ledger.MaxConsecutiveFailures of them in log order: what an
	// End of reason failed stands on.
	Run []*ledger.Penalty
}

// Live reports whether the deal can still earn: not ended, and in a
// live state.
func (i DealInfo) Live() bool { return i.End == nil && !i.State.Status.Final() }

// tracked is a DealInfo the book updates as entries are appended.
type tracked struct {
	deal  *ledger.Deal
	state market.DealState
	end   *ledger.End
	run   []*ledger.Penalty
}

func (t *tracked) info() DealInfo {
	return DealInfo{Deal: t.deal, State: t.state, End: t.end, Run: slices.Clone(t.run)}
}

// fold moves t's state by event e. Events a state does not take (a
// renewal of a deal never proven, an audit of a deal already failed)
// leave it as it is: the ledger has recorded them, and they change
// nothing in the deal's life.
func (t *tracked) fold(e market.DealEvent) {
	if s, err := market.Transition(t.state, e); err == nil {
		t.state = s
	}
}

// track folds e into the deals' states. Callers hold mu.
func (b *Book) track(e ledger.Entry) {
	switch e := e.(type) {
	case *ledger.Deal:
		k := dealKey{e.Shard, e.Client, e.Provider}
		ts := b.tracks[k]
		for _, prev := range ts {
			if prev.deal.End == e.Start {
				prev.fold(market.EventRenew)
			}
		}
		t := &tracked{deal: e, state: market.DealState{Status: market.DealAccepted}}
		i := sort.Search(len(ts), func(i int) bool { return ts[i].deal.Start > e.Start })
		b.tracks[k] = append(ts[:i], append([]*tracked{t}, ts[i:]...)...)
		if last := b.deals[k]; last == nil || e.Start >= last.Start {
			b.deals[k] = e
		}
	case *ledger.Credit:
		if t := b.covering(dealKey{e.Shard, e.Client, e.Provider}, e.Epoch*e.EpochSeconds, (e.Epoch+1)*e.EpochSeconds); t != nil {
			t.fold(market.EventPass)
			t.run = nil
		}
	case *ledger.Penalty:
		if t := b.covering(dealKey{e.Shard, e.Client, e.Provider}, e.Epoch*e.EpochSeconds, (e.Epoch+1)*e.EpochSeconds); t != nil {
			ev := market.EventFail
			if e.Outcome == ledger.OutcomeMissed {
				ev = market.EventMiss
			}
			t.fold(ev)
			if len(t.run) == ledger.MaxConsecutiveFailures {
				t.run = t.run[1:]
			}
			t.run = append(t.run, e)
		}
	case *ledger.End:
		for _, t := range b.tracks[dealKey{e.Shard, e.Client, e.Provider}] {
			if t.deal.Start != e.Start {
				continue
			}
			t.end = e
			switch e.Reason {
			case ledger.EndExpired:
				t.fold(market.EventExpire)
			case ledger.EndCancelled:
				t.fold(market.EventCancel)
			case ledger.EndFailed:
				// The ledger took the End only after the run of
				// penalties that failed the deal.
				t.state.Status = market.DealFailed
			}
		}
	}
}

// covering returns the deal of k whose time holds [from, to). Callers
// hold mu.
func (b *Book) covering(k dealKey, from, to uint64) *tracked {
	ts := b.tracks[k]
	for _, t := range ts {
		if t.deal.Start > from || from >= t.deal.End {
			continue
		}
		// As the ledger's rule: renewals may carry the epoch past the
		// end of the deal it starts in, but not past a renewal's End
		// (the ledger refuses an entry for such an epoch).
		end := t.deal.End
		for hops := 0; end < to && hops < ledger.MaxRenewalHops; hops++ {
			var next *tracked
			for _, u := range ts {
				if u.deal.Start == end {
					next = u
				}
			}
			if next == nil || next.end != nil && next.end.At < min(to, next.deal.End) {
				break
			}
			end = next.deal.End
		}
		if to <= end {
			return t
		}
	}
	return nil
}

// Info returns where deal d stands in the node's log.
func (b *Book) Info(d *ledger.Deal) (DealInfo, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range b.tracks[dealKey{d.Shard, d.Client, d.Provider}] {
		if t.deal.Start == d.Start {
			return t.info(), true
		}
	}
	return DealInfo{}, false
}

// DealInfos returns every deal in the node's log, renewals and ended
// deals included, ordered by start, then shard.
func (b *Book) DealInfos() []DealInfo {
	b.mu.Lock()
	var out []DealInfo
	for _, ts := range b.tracks {
		for _, t := range ts {
			out = append(out, t.info())
		}
	}
	b.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, c := out[i].Deal, out[j].Deal
		if a.Start != c.Start {
			return a.Start < c.Start
		}
		return string(a.Shard[:]) < string(c.Shard[:])
	})
	return out
}

// DealFor returns the deal of this node, as client, with provider p for
// shard id whose time holds [from, to), and where it stands.
func (b *Book) DealFor(p dsn.PeerID, id dsn.ShardID, from, to uint64) (DealInfo, bool) {
	pk, err := b.keyOf(p)
	if err != nil {
		return DealInfo{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.covering(dealKey{id, b.self, pk}, from, to)
	if t == nil {
		return DealInfo{}, false
	}
	return t.info(), true
}

// EndDeal returns an End of deal d at at (Unix seconds) for reason,
// signed by this node, which must be the deal's client or one of its
// auditors. A failed deal forfeits its whole collateral, as the ledger
// requires; other reasons forfeit nothing. The caller records it and
// hands it to the provider.
func (b *Book) EndDeal(d *ledger.Deal, at uint64, reason ledger.EndReason) (*ledger.End, error) {
	e := &ledger.End{Shard: d.Shard, Client: d.Client, Provider: d.Provider, Signer: b.self,
		Start: d.Start, At: at, Reason: reason}
	if reason == ledger.EndFailed {
		e.Forfeit = d.Collateral
	}
	if err := e.Sign(b.key); err != nil {
		return nil, fmt.Errorf("end deal of shard %s: %w", d.Shard.Short(), err)
	}
	return e, nil
}

// PeerOf returns the peer whose ledger key is k: one this node has named
// (in a deal, receipt or judgement) since it opened, else what
// Options.PeerOf says.
func (b *Book) PeerOf(k ledger.PublicKey) (dsn.PeerID, bool) {
	b.mu.Lock()
	p, ok := b.peers[k]
	b.mu.Unlock()
	if ok {
		return p, true
	}
	if b.opts.PeerOf != nil {
		if p, err := b.opts.PeerOf(k); err == nil {
			return p, true
		}
	}
	return "", false
}

// KeyOf returns the ledger key of peer p (Options.KeyOf).
func (b *Book) KeyOf(p dsn.PeerID) (ledger.PublicKey, error) { return b.keyOf(p) }
