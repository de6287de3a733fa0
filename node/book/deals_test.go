package book

import (
	"errors"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/market"
)

const hourSecs = 3600

// settle judges epoch of d as the client (its auditor) and records the
// outcome in both parties' books.
func settle(t *testing.T, c, p *party, d *ledger.Deal, epoch uint64, pass bool) {
	t.Helper()
	e, err := c.book.Judge(d, epoch, hourSecs, pass, ledger.OutcomeMissed, [32]byte{byte(epoch)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.book.Submit(ctxT(t), c.id, e); err != nil {
		t.Fatalf("provider Submit(%s of epoch %d) = %v", e.Kind(), epoch, err)
	}
	if err := c.book.Record(ctxT(t), e); err != nil {
		t.Fatalf("client Record(%s of epoch %d) = %v", e.Kind(), epoch, err)
	}
}

func wantState(t *testing.T, b *Book, d *ledger.Deal, want market.DealStatus) DealInfo {
	t.Helper()
	info, ok := b.Info(d)
	if !ok || info.State.Status != want {
		t.Fatalf("Info(deal) = %v, %v; want status %s", info.State, ok, want)
	}
	return info
}

// A deal's life read off the books: accepted, active after its first
// credit, failed after three penalties in a row (the run it keeps), ended with its
// collateral forfeited in both books, and the state rebuilt on reopen.
func TestDealLifeInBooks(t *testing.T) {
	const size = 1 << 30
	ps := world(t, map[dsn.ShardID]int64{shardA: size}, "client", "provider")
	c, p := ps["client"], ps["provider"]
	d := deal(t, c, p, shardA, size)
	if want := market.Collateral(size, DefaultTerms.CollateralPerGiB); d.Collateral != want || want == 0 {
		t.Fatalf("deal collateral = %d, want %d", d.Collateral, want)
	}
	for _, b := range []*Book{c.book, p.book} {
		wantState(t, b, d, market.DealAccepted)
	}
	next := d.Start/hourSecs + 1
	// A penalty, then a credit: the credit ends the run.
	settle(t, c, p, d, next, false)
	if info := wantState(t, c.book, d, market.DealAccepted); len(info.Run) != 1 {
		t.Errorf("after one penalty, Info(deal).Run has %d, want 1", len(info.Run))
	}
	next++
	settle(t, c, p, d, next, true)
	if info := wantState(t, p.book, d, market.DealActive); len(info.Run) != 0 {
		t.Errorf("after a credit, Info(deal).Run has %d, want none", len(info.Run))
	}
	for i := range uint64(market.MaxConsecutiveFailures) {
		settle(t, c, p, d, next+1+i, false)
	}
	info := wantState(t, c.book, d, market.DealFailed)
	if len(info.Run) != ledger.MaxConsecutiveFailures {
		t.Fatalf("after %d penalties, Info(deal).Run has %d", market.MaxConsecutiveFailures, len(info.Run))
	}
	for i, pen := range info.Run {
		if pen.Epoch != next+1+uint64(i) {
			t.Errorf("Info(deal).Run[%d] is of epoch %d, want %d", i, pen.Epoch, next+1+uint64(i))
		}
	}
	e, err := c.book.EndDeal(d, (next+1+market.MaxConsecutiveFailures)*hourSecs, ledger.EndFailed)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.book.Submit(ctxT(t), c.id, e); err != nil {
		t.Fatalf("provider Submit(end) = %v", err)
	}
	if err := c.book.Record(ctxT(t), e); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*Book{c.book, p.book} {
		info := wantState(t, b, d, market.DealFailed)
		if info.End == nil || info.End.Forfeit != d.Collateral || info.Live() {
			t.Errorf("Info(deal).End = %+v, live %v; want the End forfeiting %d", info.End, info.Live(), d.Collateral)
		}
	}
	// Reopened, the provider's book folds its log to the same state.
	must(t, p.book.Close())
	b, err := Open(p.dir, p.key, p.opts)
	must(t, err)
	t.Cleanup(func() { b.Close() })
	if info := wantState(t, b, d, market.DealFailed); info.End == nil || info.End.Forfeit != d.Collateral {
		t.Errorf("after reopening, Info(deal).End = %+v, want the forfeit", info.End)
	}
	accts, err := b.Log().Balance()
	must(t, err)
	for _, a := range accts {
		if a.Party == b.Self() && a.Forfeits != d.Collateral {
			t.Errorf("provider's balance forfeits %d, want %d", a.Forfeits, d.Collateral)
		}
	}
	// A failed deal is not renewed.
	r, err := c.book.Renewal(d)
	must(t, err)
	if _, err := b.ProposeDeal(ctxT(t), c.id, r); !errors.Is(err, ErrRefused) {
		t.Errorf("ProposeDeal(renewal of a failed deal) = %v, want %v", err, ErrRefused)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Renewals: a deal whose shard is proven is renewed from its End; one
// never proven, one cancelled, or a renewal that overlaps, is refused.
func TestRenewal(t *testing.T) {
	shardB := dsn.SumShard([]byte("shard b"))
	ps := world(t, map[dsn.ShardID]int64{shardA: 1000, shardB: 1000}, "client", "provider")
	c, p := ps["client"], ps["provider"]
	ctx := ctxT(t)
	d := deal(t, c, p, shardA, 1000)
	r, err := c.book.Renewal(d)
	must(t, err)
	if _, err := p.book.ProposeDeal(ctx, c.id, r); !errors.Is(err, ErrRefused) {
		t.Errorf("ProposeDeal(renewal of a deal never proven) = %v, want %v", err, ErrRefused)
	}
	settle(t, c, p, d, d.Start/hourSecs+1, true)
	overlapping := *r
	overlapping.Start, overlapping.End = d.End-hourSecs, r.End
	must(t, overlapping.SignClient(c.key))
	if _, err := p.book.ProposeDeal(ctx, c.id, &overlapping); !errors.Is(err, ErrRefused) {
		t.Errorf("ProposeDeal(renewal overlapping its deal) = %v, want %v", err, ErrRefused)
	}
	signed, err := p.book.ProposeDeal(ctx, c.id, r)
	if err != nil {
		t.Fatalf("ProposeDeal(renewal of an active deal) = %v", err)
	}
	must(t, c.book.Record(ctx, signed))
	for _, b := range []*Book{c.book, p.book} {
		wantState(t, b, d, market.DealRenewed)
		wantState(t, b, r, market.DealAccepted)
	}
	// One deal is renewed once.
	again, err := c.book.Renewal(d)
	must(t, err)
	if _, err := p.book.ProposeDeal(ctx, c.id, again); !errors.Is(err, ErrRefused) {
		t.Errorf("ProposeDeal(second renewal of one deal) = %v, want %v", err, ErrRefused)
	}

	// A cancelled deal is not renewed, though its shard was proven.
	d2 := deal(t, c, p, shardB, 1000)
	settle(t, c, p, d2, d2.Start/hourSecs+1, true)
	end, err := c.book.EndDeal(d2, (d2.Start/hourSecs+2)*hourSecs, ledger.EndCancelled)
	must(t, err)
	must(t, p.book.Submit(ctx, c.id, end))
	wantState(t, p.book, d2, market.DealCancelled)
	r2, err := c.book.Renewal(d2)
	must(t, err)
	if _, err := p.book.ProposeDeal(ctx, c.id, r2); !errors.Is(err, ErrRefused) {
		t.Errorf("ProposeDeal(renewal of a cancelled deal) = %v, want %v", err, ErrRefused)
	}
}

// A provider stakes no more collateral than its terms say.
func TestCollateralAboveTermsRefused(t *testing.T) {
	ps := world(t, map[dsn.ShardID]int64{shardA: 1 << 30}, "client", "provider")
	c, p := ps["client"], ps["provider"]
	at := func(rate uint64) *ledger.Deal {
		d, err := c.book.NewDealWith(p.id, shardA, 1<<30, Prices{PerGiBMonth: DefaultTerms.PricePerGiBMonth,
			PerGiB: DefaultTerms.PricePerGiB, CollateralPerGiB: rate})
		must(t, err)
		return d
	}
	if _, err := p.book.ProposeDeal(ctxT(t), c.id, at(DefaultTerms.CollateralPerGiB+1)); !errors.Is(err, ErrRefused) {
		t.Errorf("ProposeDeal(collateral above terms) = %v, want %v", err, ErrRefused)
	}
	if _, err := p.book.ProposeDeal(ctxT(t), c.id, at(DefaultTerms.CollateralPerGiB)); err != nil {
		t.Errorf("ProposeDeal(collateral at terms) = %v", err)
	}
}

// Ends are submitted by their signer only; the provider cannot end its
// own deal, nor a stranger someone else's.
func TestSubmitEnd(t *testing.T) {
	ps := world(t, map[dsn.ShardID]int64{shardA: 1000}, "client", "provider", "mallory")
	c, p, m := ps["client"], ps["provider"], ps["mallory"]
	ctx := ctxT(t)
	d := deal(t, c, p, shardA, 1000)
	at := d.Start + hourSecs
	end, err := c.book.EndDeal(d, at, ledger.EndCancelled)
	must(t, err)
	if err := p.book.Submit(ctx, m.id, end); !errors.Is(err, ErrRefused) {
		t.Errorf("Submit(client's end, relayed by another peer) = %v, want %v", err, ErrRefused)
	}
	if _, err := p.book.EndDeal(d, at, ledger.EndCancelled); !errors.Is(err, ledger.ErrSelfDealing) {
		t.Errorf("provider EndDeal = %v, want %v", err, ledger.ErrSelfDealing)
	}
	forged, err := m.book.EndDeal(d, at, ledger.EndCancelled)
	must(t, err)
	if err := p.book.Submit(ctx, m.id, forged); !errors.Is(err, ledger.ErrNotAuditor) {
		t.Errorf("Submit(end by a stranger) = %v, want %v", err, ledger.ErrNotAuditor)
	}
	failed, err := c.book.EndDeal(d, at, ledger.EndFailed)
	must(t, err)
	if err := p.book.Submit(ctx, c.id, failed); !errors.Is(err, ledger.ErrTerms) {
		t.Errorf("Submit(failed end with no penalties) = %v, want %v", err, ledger.ErrTerms)
	}
	must(t, p.book.Submit(ctx, c.id, end))
	if err := p.book.Submit(ctx, c.id, end); !errors.Is(err, ledger.ErrDealEnded) {
		t.Errorf("Submit(end twice) = %v, want %v", err, ledger.ErrDealEnded)
	}
	if peer, ok := p.book.PeerOf(c.book.Self()); !ok || peer != c.id {
		t.Errorf("PeerOf(client key) = %q, %v; want %q", peer, ok, c.id)
	}
}

// An epoch that runs on from a deal into its renewal is covered by the
// deal only while the renewal stands: once the renewal is cancelled
// before the epoch ends, no deal covers the epoch (the ledger would refuse
// a credit or penalty for it), so Settle judges nothing for it.
func TestEpochIntoACancelledRenewalIsNotCovered(t *testing.T) {
	ps := world(t, map[dsn.ShardID]int64{shardA: 1000}, "client", "provider")
	c, p := ps["client"], ps["provider"]
	ctx := ctxT(t)
	d := deal(t, c, p, shardA, 1000)
	settle(t, c, p, d, d.Start/hourSecs+1, true)
	r, err := c.book.Renewal(d)
	must(t, err)
	signed, err := p.book.ProposeDeal(ctx, c.id, r)
	must(t, err)
	must(t, c.book.Record(ctx, signed))
	from, to := d.End-hourSecs, d.End+hourSecs
	if info, ok := c.book.DealFor(p.id, shardA, from, to); !ok || info.Deal.Start != d.Start {
		t.Fatalf("DealFor(epoch into a standing renewal) = %v, %v; want the deal it starts in", info.Deal, ok)
	}
	end, err := c.book.EndDeal(signed, signed.Start, ledger.EndCancelled)
	must(t, err)
	must(t, c.book.Record(ctx, end))
	if info, ok := c.book.DealFor(p.id, shardA, from, to); ok {
		t.Errorf("DealFor(epoch into a renewal cancelled at its start) = deal from %d, want none", info.Deal.Start)
	}
	if _, ok := c.book.DealFor(p.id, shardA, d.End-2*hourSecs, d.End-hourSecs); !ok {
		t.Errorf("DealFor(epoch within the deal itself) = none, want the deal")
	}
}
