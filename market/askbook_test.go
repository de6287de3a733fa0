package market

import (
	"errors"
	"testing"
	"time"
)

func TestAskBookAdd(t *testing.T) {
	resign := func(a Ask, seed byte, f func(*Ask)) Ask {
		f(&a)
		if err := a.Sign(testKey(seed)); err != nil {
			t.Fatal(err)
		}
		return a
	}
	base := testAsk(t, 1, 5)
	forged := base
	forged.PricePerGiBMonth = 1
	steps := []struct {
		name    string
		ask     Ask
		now     time.Time
		want    error
		wantSeq uint64 // the book's sequence for provider 1 afterwards
	}{
		{"first ask", base, t0, nil, 5},
		{"same sequence", resign(base, 1, func(a *Ask) { a.PricePerGiBMonth = 2 }), t0, ErrStaleAsk, 5},
		{"lower sequence", testAsk(t, 1, 4), t0, ErrStaleAsk, 5},
		{"forged", forged, t0, ErrAskSignature, 5},
		{"higher sequence", testAsk(t, 1, 6), t0, nil, 6},
		{"expired", testAsk(t, 1, 9), t0.Add(time.Hour), ErrAskExpired, 6},
		{"valid too long", resign(base, 1, func(a *Ask) {
			a.Seq, a.ValidUntil = 10, uint64(t0.Add(MaxAskValidity+time.Second).Unix())
		}), t0, ErrAskTooLong, 6},
		{"valid for the maximum", resign(base, 1, func(a *Ask) {
			a.Seq, a.ValidUntil = 11, uint64(t0.Add(MaxAskValidity).Unix())
		}), t0, nil, 11},
	}
	b := NewAskBook(0)
	for _, s := range steps {
		err := b.Add(s.ask, s.now)
		if !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
			t.Fatalf("%s: Add = %v, want %v", s.name, err, s.want)
		}
		got, ok := b.Get(base.Provider)
		if !ok || got.Seq != s.wantSeq {
			t.Fatalf("%s: Get = seq %d, %v; want seq %d", s.name, got.Seq, ok, s.wantSeq)
		}
	}
	if b.Len() != 1 {
		t.Fatalf("Len = %d, want 1", b.Len())
	}
}

func TestAskBookBoundAndPrune(t *testing.T) {
	b := NewAskBook(2)
	short := testAsk(t, 1, 1) // valid until t0+1h
	long := testAsk(t, 2, 1)
	long.ValidUntil = uint64(t0.Add(3 * time.Hour).Unix())
	if err := long.Sign(testKey(2)); err != nil {
		t.Fatal(err)
	}
	for _, a := range []Ask{short, long} {
		if err := b.Add(a, t0); err != nil {
			t.Fatal(err)
		}
	}
	third := testAsk(t, 3, 1)
	if err := b.Add(third, t0); !errors.Is(err, ErrAskBookFull) {
		t.Fatalf("Add to a full book = %v, want %v", err, ErrAskBookFull)
	}
	// A known provider still refreshes its ask in a full book.
	if err := b.Add(testAsk(t, 1, 2), t0); err != nil {
		t.Fatalf("refresh in a full book = %v", err)
	}
	// Once provider 1's ask lapses, a new provider takes its place.
	later := t0.Add(time.Hour)
	third.ValidUntil = uint64(later.Add(time.Hour).Unix())
	if err := third.Sign(testKey(3)); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(third, later); err != nil {
		t.Fatalf("Add after an ask expired = %v", err)
	}
	if _, ok := b.Get(short.Provider); ok {
		t.Fatalf("expired ask still in the book")
	}
	if n := b.Prune(later.Add(time.Hour)); n != 1 {
		t.Fatalf("Prune = %d, want 1 (provider 3's ask)", n)
	}
	asks := b.Asks()
	if len(asks) != 1 || asks[0].Provider != long.Provider {
		t.Fatalf("Asks after Prune = %d asks, want provider 2's only", len(asks))
	}
}

func TestAskBookAsksOrdered(t *testing.T) {
	b := NewAskBook(10)
	for seed := byte(1); seed <= 5; seed++ {
		if err := b.Add(testAsk(t, seed, 1), t0); err != nil {
			t.Fatal(err)
		}
	}
	asks := b.Asks()
	for i := 1; i < len(asks); i++ {
		if string(asks[i-1].Provider[:]) >= string(asks[i].Provider[:]) {
			t.Fatalf("Asks not in provider key order at %d", i)
		}
	}
}
