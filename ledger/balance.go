package ledger

import (
	"bytes"
	"fmt"
	"math/bits"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// Units of Balance. Prices are integers in nano-units; sizes in bytes;
// times in seconds.
const (
	// GiB is the byte unit prices are quoted in.
	GiB = 1 << 30
	// MonthSeconds is the month of PricePerGiBMonth: 30 days.
	MonthSeconds = 30 * 24 * 3600
)

// Account is what one party has earned and owes, in nano-units unless
// the name says otherwise. Each amount is, per (provider, client) pair,
// the exact sum rounded down once, so what providers earn from a client
// is exactly what that client owes, to the nano-unit.
type Account struct {
	Party PublicKey
	// As a provider.
	SpaceEarned     uint64 // Σ credit Bytes × EpochSeconds × PricePerGiBMonth / (GiB × MonthSeconds)
	BytesServed     uint64 // Σ over sessions of the latest receipt's Bytes
	BandwidthEarned uint64 // Σ BytesServed × PricePerGiB / GiB
	// Penalties is all it paid its clients for failures: Σ penalty
	// Amounts + Forfeits.
	Penalties uint64
	// Forfeits is the part of Penalties that is collateral: Σ Forfeit
	// of the Ends of its failed deals.
	Forfeits uint64
	// As a client.
	SpaceOwed     uint64
	BandwidthOwed uint64
	// Compensation is all its providers paid it for failures: Σ penalty
	// Amounts + ForfeitsReceived.
	Compensation uint64
	// ForfeitsReceived is the part of Compensation that is collateral.
	ForfeitsReceived uint64
}

// Balances folds entries, in log order, into accounts. It trusts that
// the entries passed a Log's rules (Append or Verify checked them): it
// only looks up the deal each entry is priced by. For such entries it
// never returns ErrOverflow: the rules bound every party's account total
// (MaxAccountTotal). It is a plain value
// with no I/O; memory grows with the deals and sessions, not the
// entries.
type Balances struct {
	deals    map[triple][]*Deal
	sessions map[sessionRef]*priced
	pairs    map[pair]*pairSum
}

type sessionRef struct {
	client PublicKey
	id     SessionID
}

type priced struct {
	pair  pair
	price uint64
	bytes uint64
}

type pair struct{ provider, client PublicKey }

// pairSum holds exact numerators; dividing happens once, in Accounts.
type pairSum struct {
	space     u128
	penalties uint64
	forfeits  uint64
}

// NewBalances returns an empty fold.
func NewBalances() *Balances {
	return &Balances{deals: map[triple][]*Deal{}, sessions: map[sessionRef]*priced{}, pairs: map[pair]*pairSum{}}
}

func (b *Balances) sum(p pair) *pairSum {
	s := b.pairs[p]
	if s == nil {
		s = new(pairSum)
		b.pairs[p] = s
	}
	return s
}

// Add folds the next entry of the log.
func (b *Balances) Add(e Entry) error {
	switch e := e.(type) {
	case *Deal:
		k := triple{e.Shard, e.Client, e.Provider}
		b.deals[k] = append(b.deals[k], e)
		b.sum(pair{e.Provider, e.Client})
	case *Receipt:
		ref := sessionRef{e.Client, e.Session}
		s := b.sessions[ref]
		if s == nil {
			// Priced by the deal in force when the session started: the
			// one of its triple that starts last, as in the rules.
			var d *Deal
			for _, c := range b.deals[triple{e.Shard, e.Client, e.Provider}] {
				if d == nil || c.Start > d.Start {
					d = c
				}
			}
			if d == nil {
				return fmt.Errorf("balance: %w: receipt for shard %x", ErrNoDeal, e.Shard[:6])
			}
			s = &priced{pair: pair{e.Provider, e.Client}, price: d.PricePerGiB}
			b.sessions[ref] = s
		}
		s.bytes = e.Bytes
	case *Credit:
		d, err := b.covering(triple{e.Shard, e.Client, e.Provider}, e.Epoch, e.EpochSeconds)
		if err != nil {
			return err
		}
		s := b.sum(pair{e.Provider, e.Client})
		// Bytes < 2^31 and EpochSeconds < 2^25, so their product fits.
		s.space = s.space.add(mul(e.Bytes*e.EpochSeconds, d.PricePerGiBMonth))
	case *Penalty:
		if _, err := b.covering(triple{e.Shard, e.Client, e.Provider}, e.Epoch, e.EpochSeconds); err != nil {
			return err
		}
		s := b.sum(pair{e.Provider, e.Client})
		var carry uint64
		if s.penalties, carry = bits.Add64(s.penalties, e.Amount, 0); carry != 0 {
			return fmt.Errorf("balance: penalties: %w", ErrOverflow)
		}
	case *End:
		found := false
		for _, d := range b.deals[triple{e.Shard, e.Client, e.Provider}] {
			found = found || d.Start == e.Start
		}
		if !found {
			return fmt.Errorf("balance: %w: end of the deal for shard %x starting at %d", ErrNoDeal, e.Shard[:6], e.Start)
		}
		s := b.sum(pair{e.Provider, e.Client})
		var carry uint64
		if s.forfeits, carry = bits.Add64(s.forfeits, e.Forfeit, 0); carry != 0 {
			return fmt.Errorf("balance: forfeits: %w", ErrOverflow)
		}
	}
	return nil
}

// covering returns the deal an outcome of epoch belongs to: the one the
// epoch starts in, as the log's rules decide (an epoch may run on into a
// renewal; the rules have checked that it does without a gap).
func (b *Balances) covering(k triple, epoch, secs uint64) (*Deal, error) {
	from := epoch * secs
	for _, d := range b.deals[k] {
		if d.Start <= from && from < d.End {
			return d, nil
		}
	}
	return nil, fmt.Errorf("balance: %w: epoch %d of shard %x", ErrNoDeal, epoch, k.shard[:6])
}

// Accounts returns every party's account, in key order.
func (b *Balances) Accounts() ([]Account, error) {
	// Bandwidth is priced from each session's latest receipt, so it is
	// summed here rather than as receipts arrive.
	type served struct {
		bandwidth u128
		bytes     uint64
	}
	bw := map[pair]*served{}
	for _, s := range b.sessions {
		x := bw[s.pair]
		if x == nil {
			x = new(served)
			bw[s.pair] = x
		}
		x.bandwidth = x.bandwidth.add(mul(s.bytes, s.price))
		var carry uint64
		if x.bytes, carry = bits.Add64(x.bytes, s.bytes, 0); carry != 0 {
			return nil, fmt.Errorf("balance: bytes served: %w", ErrOverflow)
		}
	}
	accts := map[PublicKey]*Account{}
	acct := func(k PublicKey) *Account {
		a := accts[k]
		if a == nil {
			a = &Account{Party: k}
			accts[k] = a
		}
		return a
	}
	for p, s := range b.pairs {
		var x served
		if v := bw[p]; v != nil {
			x = *v
		}
		space, ok1 := s.space.div(GiB * MonthSeconds)
		band, ok2 := x.bandwidth.div(GiB)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("balance of %s with %s: %w", p.provider.Short(), p.client.Short(), ErrOverflow)
		}
		pr, cl := acct(p.provider), acct(p.client)
		for _, add := range []struct {
			dst *uint64
			v   uint64
		}{
			{&pr.SpaceEarned, space}, {&pr.BandwidthEarned, band}, {&pr.BytesServed, x.bytes},
			{&pr.Penalties, s.penalties}, {&pr.Penalties, s.forfeits}, {&pr.Forfeits, s.forfeits},
			{&cl.SpaceOwed, space}, {&cl.BandwidthOwed, band},
			{&cl.Compensation, s.penalties}, {&cl.Compensation, s.forfeits}, {&cl.ForfeitsReceived, s.forfeits},
		} {
			var carry uint64
			if *add.dst, carry = bits.Add64(*add.dst, add.v, 0); carry != 0 {
				return nil, fmt.Errorf("balance: %w", ErrOverflow)
			}
		}
	}
	out := make([]Account, 0, len(accts))
	for _, a := range accts {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Account) int { return bytes.Compare(a.Party[:], b.Party[:]) })
	return out, nil
}

// Balance folds the log's entries, as of the call, into accounts. It
// trusts the store; run Verify first for a log that may have been
// tampered with.
func (l *Log) Balance() ([]Account, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	snap := l.db.NewSnapshot()
	l.mu.Unlock()
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{keyEntry}, UpperBound: []byte{keyEntry + 1}})
	if err != nil {
		return nil, fmt.Errorf("balance: %w", err)
	}
	defer it.Close()
	b := NewBalances()
	for ok := it.First(); ok; ok = it.Next() {
		e, err := DecodeEntry(it.Value())
		if err != nil {
			return nil, fmt.Errorf("balance: entry %x: %w", it.Key()[1:], err)
		}
		if err := b.Add(e); err != nil {
			return nil, err
		}
	}
	return b.Accounts()
}

// u128 is an unsigned 128-bit integer: exact sums of products of 64-bit
// values, divided once.
type u128 struct{ hi, lo uint64 }

func mul(a, b uint64) u128 {
	hi, lo := bits.Mul64(a, b)
	return u128{hi, lo}
}

func (x u128) add(y u128) u128 {
	lo, c := bits.Add64(x.lo, y.lo, 0)
	hi, _ := bits.Add64(x.hi, y.hi, c) // a pair's sums stay below MaxAccountTotal × 2^52: far from 2^128
	return u128{hi, lo}
}

// div returns floor(x/d), ok false if it does not fit in 64 bits.
func (x u128) div(d uint64) (uint64, bool) {
	if x.hi >= d {
		return 0, false
	}
	q, _ := bits.Div64(x.hi, x.lo, d)
	return q, true
}

// rem returns x mod d, for x whose quotient by d fits in 64 bits.
func (x u128) rem(d uint64) uint64 {
	_, r := bits.Div64(x.hi%d, x.lo, d)
	return r
}
