package market

import (
	"bytes"
	"fmt"
	"slices"
	"time"
)

// DefaultAskBookSize is how many providers an AskBook keeps asks for
// unless told otherwise. An ask takes some 300 bytes in memory, so the
// book stays near a megabyte.
const DefaultAskBookSize = 4096

// AskBook keeps the latest valid ask of each provider, as they arrive by
// gossip. It holds at most a fixed number of providers. It is a plain
// value: not safe for concurrent use, and it has no clock (every call
// that depends on time takes now).
type AskBook struct {
	max  int
	asks map[[32]byte]Ask
}

// NewAskBook returns an empty book for at most maxProviders providers
// (DefaultAskBookSize if maxProviders <= 0).
func NewAskBook(maxProviders int) *AskBook {
	if maxProviders <= 0 {
		maxProviders = DefaultAskBookSize
	}
	return &AskBook{max: maxProviders, asks: make(map[[32]byte]Ask)}
}

// Add takes in a: it must verify (ErrAskMalformed, ErrAskSignature),
// stand at now (ErrAskExpired), end within MaxAskValidity of now
// (ErrAskTooLong), and carry a sequence number above the provider's ask
// in the book (ErrStaleAsk), which it then replaces. A new provider is
// refused with ErrAskBookFull when the book is full even after expired
// asks are dropped: the book keeps the providers it knows rather than
// letting a flood of new keys push them out.
func (b *AskBook) Add(a Ask, now time.Time) error {
	if err := a.Verify(); err != nil {
		return fmt.Errorf("add ask: %w", err)
	}
	if a.Expired(now) {
		return fmt.Errorf("add ask of %x: %w at %d", a.Provider[:6], ErrAskExpired, a.ValidUntil)
	}
	if limit := now.Add(MaxAskValidity).Unix(); limit >= 0 && a.ValidUntil > uint64(limit) {
		return fmt.Errorf("add ask of %x: %w: valid until %d, more than %v from now", a.Provider[:6], ErrAskTooLong, a.ValidUntil, MaxAskValidity)
	}
	if old, ok := b.asks[a.Provider]; ok {
		if a.Seq <= old.Seq {
			return fmt.Errorf("add ask of %x: %w: sequence %d, have %d", a.Provider[:6], ErrStaleAsk, a.Seq, old.Seq)
		}
	} else if len(b.asks) >= b.max {
		if b.Prune(now); len(b.asks) >= b.max {
			return fmt.Errorf("add ask of %x: %w: %d providers", a.Provider[:6], ErrAskBookFull, b.max)
		}
	}
	b.asks[a.Provider] = a
	return nil
}

// Get returns the provider's ask, which may have expired since it was
// added (Fits says so).
func (b *AskBook) Get(provider [32]byte) (Ask, bool) {
	a, ok := b.asks[provider]
	return a, ok
}

// Prune drops the asks that no longer stand at now and returns how many.
func (b *AskBook) Prune(now time.Time) int {
	n := 0
	for k, a := range b.asks {
		if a.Expired(now) {
			delete(b.asks, k)
			n++
		}
	}
	return n
}

// Len returns how many providers the book holds asks of.
func (b *AskBook) Len() int { return len(b.asks) }

// Asks returns the asks in the book ordered by provider key, so that
// listings are the same on every run.
func (b *AskBook) Asks() []Ask {
	out := make([]Ask, 0, len(b.asks))
	for _, a := range b.asks {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y Ask) int { return bytes.Compare(x.Provider[:], y.Provider[:]) })
	return out
}
