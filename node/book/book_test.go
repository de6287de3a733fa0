package book

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
)

// party is one node of a test: a key, a peer ID and its book.
type party struct {
	id   dsn.PeerID
	key  ed25519.PrivateKey
	book *Book
	dir  string
	opts Options
}

type keys map[dsn.PeerID]ledger.PublicKey

func (k keys) of(p dsn.PeerID) (ledger.PublicKey, error) {
	pk, ok := k[p]
	if !ok {
		return ledger.PublicKey{}, fmt.Errorf("unknown %s", p)
	}
	return pk, nil
}

// world makes parties sharing one key directory; held are the shards
// (and sizes) every party holds, as providers.
func world(t *testing.T, held map[dsn.ShardID]int64, names ...string) map[string]*party {
	t.Helper()
	ks := keys{}
	ps := map[string]*party{}
	for _, n := range names {
		_, priv, _ := ed25519.GenerateKey(nil)
		ps[n] = &party{id: dsn.PeerID(n), key: priv}
		ks[dsn.PeerID(n)] = ledger.PublicKeyOf(priv)
	}
	for _, n := range names {
		p := ps[n]
		p.dir, p.opts = filepath.Join(t.TempDir(), n), Options{KeyOf: ks.of, Holds: func(_ context.Context, id dsn.ShardID) (int64, error) {
			if s, ok := held[id]; ok {
				return s, nil
			}
			return 0, dsn.ErrShardNotFound
		}}
		b, err := Open(p.dir, p.key, p.opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		p.book = b
	}
	return ps
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var shardA = dsn.SumShard([]byte("shard a"))

func deal(t *testing.T, client, provider *party, id dsn.ShardID, size int64) *ledger.Deal {
	t.Helper()
	d, err := client.book.NewDeal(provider.id, id, size)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := provider.book.ProposeDeal(ctxT(t), client.id, d)
	if err != nil {
		t.Fatalf("ProposeDeal: %v", err)
	}
	if err := ledger.CheckSignatures(signed); err != nil {
		t.Fatalf("countersigned deal: %v", err)
	}
	if err := client.book.Record(ctxT(t), signed); err != nil {
		t.Fatalf("client records the deal: %v", err)
	}
	return signed
}

func TestDealReceiptCreditPenalty(t *testing.T) {
	ps := world(t, map[dsn.ShardID]int64{shardA: 4 << 20}, "client", "provider")
	c, p := ps["client"], ps["provider"]
	ctx := ctxT(t)
	d := deal(t, c, p, shardA, 4<<20)
	if got, ok := c.book.Deal(p.id, shardA); !ok || got.ProviderSig != d.ProviderSig {
		t.Fatalf("client's Deal(provider, shard) = %v, %v", got, ok)
	}

	// Bytes served: the provider logs the client's receipt.
	var session ledger.SessionID
	session[0] = 1
	r, err := c.book.NewReceipt(p.id, shardA, session, 1, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.book.Submit(ctx, c.id, r); err != nil {
		t.Fatalf("Submit(receipt): %v", err)
	}
	// The client keeps its receipt too: what it owes.
	if err := c.book.Record(ctx, r); err != nil {
		t.Fatalf("client records its receipt: %v", err)
	}

	// The next epoch passes, the one after is missed. (An epoch earns
	// only if the deal covers all of it: the current one began before
	// the deal.)
	const epochSeconds = 3600
	next := uint64(time.Now().Unix())/epochSeconds + 1
	for epoch, pass := range map[uint64]bool{next: true, next + 1: false} {
		e, err := c.book.Judge(d, epoch, epochSeconds, pass, ledger.OutcomeMissed, [32]byte{byte(epoch)})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.book.Submit(ctx, c.id, e); err != nil {
			t.Fatalf("Submit(%v of epoch %d): %v", e.Kind(), epoch, err)
		}
		if err := c.book.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	value := EpochValue(d, epochSeconds)
	// 4 MiB for an hour at 1 unit per GiB-month: 4/1024 GiB × 1/720 month.
	if want := uint64(4 << 20 * epochSeconds * 1_000_000_000 / (1 << 30) / MonthSeconds); value != want || value == 0 {
		t.Fatalf("EpochValue = %d, want %d", value, want)
	}
	for _, who := range []*party{p, c} {
		accts, err := who.book.Log().Balance()
		if err != nil {
			t.Fatal(err)
		}
		var prov ledger.Account
		for _, a := range accts {
			if a.Party == p.book.Self() {
				prov = a
			}
		}
		served := uint64(4 << 20)
		if prov.SpaceEarned != value || prov.BytesServed != served || prov.Penalties != 2*value || (served > 0) != (prov.BandwidthEarned > 0) {
			t.Errorf("%s's log: provider account %+v, want space %d, %d bytes served, penalties %d", who.id, prov, value, served, 2*value)
		}
	}
}

func TestProposeDealRefusals(t *testing.T) {
	other := dsn.SumShard([]byte("not held"))
	ps := world(t, map[dsn.ShardID]int64{shardA: 1000}, "client", "provider", "mallory")
	c, p, m := ps["client"], ps["provider"], ps["mallory"]
	ctx := ctxT(t)
	mk := func(edit func(*ledger.Deal), signer *party) *ledger.Deal {
		d, err := signer.book.NewDeal(p.id, shardA, 1000)
		if err != nil {
			t.Fatal(err)
		}
		edit(d)
		if err := d.SignClient(signer.key); err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name string
		from dsn.PeerID
		d    *ledger.Deal
		want error
	}{
		{"shard not held", c.id, mk(func(d *ledger.Deal) { d.Shard = other }, c), ErrRefused},
		{"wrong size", c.id, mk(func(d *ledger.Deal) { d.Size = 999 }, c), ErrRefused},
		{"price too low", c.id, mk(func(d *ledger.Deal) { d.PricePerGiBMonth = 1 }, c), ErrRefused},
		{"starts tomorrow", c.id, mk(func(d *ledger.Deal) { d.Start += 86400; d.End += 86400 }, c), ErrRefused},
		{"proposed by someone else", m.id, mk(func(*ledger.Deal) {}, c), ErrRefused},
		{"signed by someone else", c.id, mk(func(*ledger.Deal) {}, m), ErrRefused},
	}
	for _, tt := range tests {
		if _, err := p.book.ProposeDeal(ctx, tt.from, tt.d); !errors.Is(err, tt.want) {
			t.Errorf("%s: ProposeDeal = %v, want %v", tt.name, err, tt.want)
		}
	}
	// A client signature that does not verify: the log refuses it.
	d := mk(func(*ledger.Deal) {}, c)
	d.ClientSig[0] ^= 1
	if _, err := p.book.ProposeDeal(ctx, c.id, d); err == nil {
		t.Error("ProposeDeal with a broken client signature succeeded")
	}
	if n := p.book.Log().Size(); n != 0 {
		t.Errorf("provider's log holds %d entries after refusals, want 0", n)
	}
}

func TestSubmitChecksTheSender(t *testing.T) {
	ps := world(t, map[dsn.ShardID]int64{shardA: 1000}, "client", "provider", "mallory")
	c, p, m := ps["client"], ps["provider"], ps["mallory"]
	d := deal(t, c, p, shardA, 1000)
	credit, err := c.book.Judge(d, uint64(time.Now().Unix())/60+1, 60, true, 0, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	// Relayed by another peer: refused; the client's own submission goes.
	if err := p.book.Submit(ctxT(t), m.id, credit); !errors.Is(err, ErrRefused) {
		t.Errorf("credit submitted by a third party = %v, want ErrRefused", err)
	}
	if err := p.book.Submit(ctxT(t), c.id, credit); err != nil {
		t.Fatal(err)
	}
	// A provider cannot make its own receipt: the ledger will not even
	// sign one, and a forged client signature does not verify.
	r := &ledger.Receipt{Provider: p.book.Self(), Client: p.book.Self(), Shard: shardA, Seq: 1, Bytes: 10}
	if err := r.Sign(p.key); !errors.Is(err, ledger.ErrSelfDealing) {
		t.Errorf("signing a receipt to oneself = %v, want ErrSelfDealing", err)
	}
	forged := &ledger.Receipt{Provider: p.book.Self(), Client: c.book.Self(), Shard: shardA, Seq: 1, Bytes: 10}
	copy(forged.ClientSig[:], ed25519.Sign(p.key, []byte("anything")))
	if err := p.book.Record(ctxT(t), forged); err == nil {
		t.Error("a receipt signed by the provider in the client's name was recorded")
	}
	if err := p.book.Submit(ctxT(t), c.id, d); !errors.Is(err, ErrRefused) {
		t.Errorf("Submit of a deal = %v, want ErrRefused", err)
	}
}

// Concurrent appends share synced writes; a bad entry among them gets
// its own refusal and does not sink the others.
func TestGroupCommit(t *testing.T) {
	shards := map[dsn.ShardID]int64{}
	for i := range 50 {
		shards[dsn.SumShard([]byte{byte(i)})] = 100
	}
	ps := world(t, shards, "client", "provider")
	c, p := ps["client"], ps["provider"]
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for id := range shards {
		wg.Go(func() {
			d, err := c.book.NewDeal(p.id, id, 100)
			if err == nil {
				_, err = p.book.ProposeDeal(ctx, c.id, d)
			}
			errs <- err
		})
	}
	for range 5 {
		wg.Go(func() {
			bad := &ledger.Receipt{Provider: p.book.Self(), Client: c.book.Self(), Shard: shardA, Seq: 1, Bytes: 1}
			errs <- p.book.Record(ctx, bad) // unsigned
		})
	}
	wg.Wait()
	close(errs)
	var ok, refused int
	for err := range errs {
		if err == nil {
			ok++
		} else {
			refused++
		}
	}
	if ok != 50 || refused != 5 || p.book.Log().Size() != 50 {
		t.Errorf("%d appended, %d refused, log size %d; want 50, 5, 50", ok, refused, p.book.Log().Size())
	}
}

func TestEpochValueDoesNotOverflow(t *testing.T) {
	d := &ledger.Deal{Size: 1 << 31, PricePerGiBMonth: 1 << 40}
	// 2 GiB for a month at 2^40 per GiB-month: 2^41.
	if got := EpochValue(d, MonthSeconds); got != 1<<41 {
		t.Errorf("EpochValue = %d, want %d", got, uint64(1)<<41)
	}
	d.PricePerGiBMonth = ^uint64(0)
	if got := EpochValue(d, ^uint64(0)); got != ^uint64(0) {
		t.Errorf("EpochValue at the limits = %d, want saturation", got)
	}
}

func TestPenaltyIsNeverNothing(t *testing.T) {
	tiny := &ledger.Deal{Size: 1, PricePerGiBMonth: 1}
	if got := Penalty(tiny, 1); got != 1 {
		t.Errorf("Penalty of a worthless epoch = %d, want 1", got)
	}
	d := &ledger.Deal{Size: 1 << 30, PricePerGiBMonth: DefaultTerms.PricePerGiBMonth}
	if got, want := Penalty(d, MonthSeconds), 2*DefaultTerms.PricePerGiBMonth; got != want {
		t.Errorf("Penalty of a GiB-month = %d, want %d", got, want)
	}
	huge := &ledger.Deal{Size: 1 << 31, PricePerGiBMonth: ^uint64(0)}
	if got := Penalty(huge, MonthSeconds); got > ledger.MaxAmount {
		t.Errorf("Penalty = %d, above the ledger's bound %d", got, uint64(ledger.MaxAmount))
	}
}
