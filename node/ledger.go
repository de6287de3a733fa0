package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/market"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/node/book"
	"github.com/dsn-project/dsn/node/ledgerproto"
)

// CollateralAsks is what a Market may also tell: the collateral rate, in
// nano-units per GiB, of a provider's standing ask. A Market that does
// not implement it leaves deals at this node's own collateral terms.
type CollateralAsks interface {
	CollateralPerGiB(p dsn.PeerID) (uint64, bool)
}

// askedTerms returns the terms of provider p's standing ask as far as the
// Market tells them: its prices, and its collateral rate if the Market
// says (else this node's own). ok is false without a Market or a standing
// ask from p.
func (c *Client) askedTerms(p dsn.PeerID) (pr book.Prices, ok bool) {
	if c.opts.Market == nil {
		return pr, false
	}
	pr.PerGiBMonth, pr.PerGiB, ok = c.opts.Market.Prices(p)
	if !ok {
		return pr, false
	}
	pr.CollateralPerGiB = c.opts.Book.Terms().CollateralPerGiB
	if ca, isCA := c.opts.Market.(CollateralAsks); isCA {
		if rate, has := ca.CollateralPerGiB(p); has {
			pr.CollateralPerGiB = rate
		}
	}
	return pr, true
}

// makeDeal proposes a deal for a shard provider p has just taken, on this
// node's terms, and records the countersigned deal in this node's ledger.
func (c *Client) makeDeal(ctx context.Context, p dsn.PeerID, id dsn.ShardID, size int64) error {
	b := c.opts.Book
	var d *ledger.Deal
	var err error
	if pr, ok := c.askedTerms(p); ok {
		// At the provider's asking terms, which placement checked
		// against the store's limit.
		d, err = b.NewDealWith(p, id, size, pr)
	} else {
		d, err = b.NewDeal(p, id, size)
	}
	if err != nil {
		return fmt.Errorf("deal: %w", err)
	}
	signed, err := c.proposeDeal(ctx, p, d)
	if err != nil {
		return fmt.Errorf("deal: %w", err)
	}
	if err := b.Record(ctx, signed); err != nil {
		return fmt.Errorf("deal: record: %w", err)
	}
	return nil
}

// proposeDeal asks p to countersign d, holding one of the client's ledger
// slots with p (see submit).
func (c *Client) proposeDeal(ctx context.Context, p dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error) {
	release, err := c.ledgerLimit.acquire(ctx, p)
	if err != nil {
		return nil, err
	}
	defer release()
	return ledgerproto.ProposeDeal(ctx, c.t, p, d)
}

// submit hands p a ledger entry, holding one of the client's ledger slots
// with p: a provider serves each peer only a few ledger requests at once
// (ledgerproto.ServerOptions.MaxPerPeer) and answers the rest Busy, and
// the receipts of a whole retrieval, or the outcomes of a whole audit,
// would otherwise all go to it at once.
func (c *Client) submit(ctx context.Context, p dsn.PeerID, e ledger.Entry) error {
	release, err := c.ledgerLimit.acquire(ctx, p)
	if err != nil {
		return err
	}
	defer release()
	return ledgerproto.Submit(ctx, c.t, p, e)
}

// receiptTimeout bounds sending the receipts of one retrieval once it is
// done: they are owed, but a provider that went away must not hold up
// the caller.
const receiptTimeout = 10 * time.Second

// receipts collects, during one retrieval, the shards each provider
// served, to be receipted when the retrieval ends. A transfer session is
// one shard's transfer: one receipt for its bytes.
type receipts struct {
	mu    sync.Mutex
	taken []served
}

type served struct {
	p     dsn.PeerID
	id    dsn.ShardID
	bytes int64
}

type receiptsKey struct{}

func (r *receipts) add(p dsn.PeerID, id dsn.ShardID, n int64) {
	r.mu.Lock()
	r.taken = append(r.taken, served{p, id, n})
	r.mu.Unlock()
}

// noteServed records that p served n verified bytes of shard id, if the
// retrieval collects receipts.
func noteServed(ctx context.Context, p dsn.PeerID, id dsn.ShardID, n int64) {
	if r, ok := ctx.Value(receiptsKey{}).(*receipts); ok {
		r.add(p, id, n)
	}
}

// collectReceipts returns ctx carrying a collector when this node keeps a
// ledger, and a function that signs and sends what was collected.
func (c *Client) collectReceipts(ctx context.Context) (context.Context, func()) {
	if c.opts.Book == nil {
		return ctx, func() {}
	}
	r := &receipts{}
	return context.WithValue(ctx, receiptsKey{}, r), func() { c.sendReceipts(context.WithoutCancel(ctx), r.taken) }
}

// sendReceipts signs a receipt for each shard served under a deal of
// this node's and hands it to its provider, all at once. Shards served
// without a deal (files this node did not store) earn nothing here: the
// provider's ledger prices bandwidth by the deal.
func (c *Client) sendReceipts(ctx context.Context, taken []served) {
	ctx, cancel := context.WithTimeout(ctx, receiptTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range taken {
		if _, ok := c.opts.Book.Deal(s.p, s.id); !ok {
			continue
		}
		wg.Go(func() {
			var session ledger.SessionID
			rand.Read(session[:])
			r, err := c.opts.Book.NewReceipt(s.p, s.id, session, 1, uint64(s.bytes))
			if err != nil {
				c.log.Error("receipt", "provider", s.p, "shard", s.id.Short(), "err", err)
				return
			}
			// The provider's copy is what it is paid on, this node's
			// what it owes; each is kept whatever became of the other.
			if err := c.submit(ctx, s.p, r); err != nil && !errors.Is(err, context.Canceled) {
				c.log.Warn("receipt not delivered", "provider", s.p, "shard", s.id.Short(), "err", err)
			}
			if err := c.opts.Book.Record(ctx, r); err != nil {
				c.log.Error("receipt not recorded", "provider", s.p, "shard", s.id.Short(), "err", err)
			}
		})
	}
	wg.Wait()
}

// ServeLedger serves b over t: deals for the shards this node holds,
// receipts, credits and penalties others sign for it, its checkpoints and
// proofs.
func ServeLedger(t dsn.Transport, b *book.Book, log *slog.Logger) *ledgerproto.Server {
	s := ledgerproto.NewServer(b, ledgerproto.ServerOptions{Logger: log})
	s.Register(t)
	return s
}

// Settle turns the audits of one epoch into ledger entries: for each
// shard under a deal of this node's, a credit if its audit passed and a
// penalty if it failed or was missed, handed to its provider and kept in
// this node's ledger. A penalty that fails its deal (the
// market.MaxConsecutiveFailures-th in a row) is followed by the deal's
// End, of reason failed, forfeiting its collateral to this node; the End
// is kept and handed to the provider the same way. Aborted audits, shards
// with no deal covering the epoch, and deals ended before it are
// skipped, and a shard held for two files is settled once. A provider
// that cannot be reached still gets its penalty and End in this node's
// ledger. It returns the number of entries recorded, Ends included.
func (c *Client) Settle(ctx context.Context, epoch, epochSeconds uint64, audits []ShardAudit) (int, error) {
	b := c.opts.Book
	if b == nil {
		return 0, nil
	}
	type key struct {
		p  dsn.PeerID
		id dsn.ShardID
	}
	done := map[key]bool{}
	var entries []struct {
		p dsn.PeerID
		e ledger.Entry
	}
	for _, a := range audits {
		k := key{a.Provider, a.ID}
		if a.Outcome == auditproto.Aborted || done[k] {
			continue
		}
		done[k] = true
		start, end := epoch*epochSeconds, (epoch+1)*epochSeconds
		info, ok := b.DealFor(a.Provider, a.ID, start, end)
		if !ok {
			continue // no deal covers the whole epoch
		}
		if info.End != nil && start >= info.End.At {
			continue // the deal ended before the epoch
		}
		d := info.Deal
		outcome := ledger.OutcomeFail
		if a.Outcome == auditproto.Missed {
			outcome = ledger.OutcomeMissed
		}
		e, err := b.Judge(d, epoch, epochSeconds, a.Outcome == auditproto.Pass, outcome, a.Digest)
		if err != nil {
			return 0, err
		}
		entries = append(entries, struct {
			p dsn.PeerID
			e ledger.Entry
		}{a.Provider, e})
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		recorded int
		errs     []error
	)
	sem := make(chan struct{}, maxAuditsInFlight)
	for _, x := range entries {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := c.submit(ctx, x.p, x.e); err != nil {
				c.log.Debug("ledger entry not delivered", "provider", x.p, "kind", x.e.Kind(), "err", err)
			}
			err := b.Record(ctx, x.e)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			recorded++
		})
	}
	wg.Wait()
	// Ends after every penalty is in, so that the ledgers see the run
	// that earns the forfeit before the forfeit.
	for _, x := range entries {
		p, ok := x.e.(*ledger.Penalty)
		if !ok {
			continue
		}
		d, ok := b.DealFor(x.p, p.Shard, p.Epoch*p.EpochSeconds, (p.Epoch+1)*p.EpochSeconds)
		if !ok || d.End != nil || d.State.Status != market.DealFailed {
			continue
		}
		if err := c.endDeal(ctx, x.p, d.Deal, (p.Epoch+1)*p.EpochSeconds, ledger.EndFailed); err != nil {
			errs = append(errs, err)
			continue
		}
		recorded++
	}
	return recorded, errors.Join(errs...)
}

// endDeal signs an End of d, records it in this node's ledger, whose
// rules check it first, and hands it to the provider p. A provider that
// cannot be reached or refuses is logged: the End stands in this node's
// ledger. A failed End goes after the run of penalties it stands on,
// sent again: a provider that was away for some of them would refuse the
// End without them, and takes each one it lacks (one it has is refused as
// a duplicate, which changes nothing).
func (c *Client) endDeal(ctx context.Context, p dsn.PeerID, d *ledger.Deal, at uint64, reason ledger.EndReason) error {
	b := c.opts.Book
	e, err := b.EndDeal(d, at, reason)
	if err != nil {
		return err
	}
	if err := b.Record(ctx, e); err != nil {
		return fmt.Errorf("end deal of shard %s (%s): %w", d.Shard.Short(), reason, err)
	}
	if info, ok := b.Info(d); ok && reason == ledger.EndFailed {
		for _, pen := range info.Run {
			if err := c.submit(ctx, p, pen); err != nil {
				c.log.Debug("penalty sent again before a failed end not taken", "provider", p, "shard", d.Shard.Short(), "epoch", pen.Epoch, "err", err)
			}
		}
	}
	if err := c.submit(ctx, p, e); err != nil {
		c.log.Warn("deal end not delivered", "provider", p, "shard", d.Shard.Short(), "reason", reason, "err", err)
	}
	return nil
}

// DefaultRenewHorizon is how long before its End a deal is renewed
// unless RenewOptions says otherwise: a day leaves room for a provider
// that is away for a while.
const DefaultRenewHorizon = 24 * time.Hour

// RenewHorizon is the horizon for a caller that runs RenewDeals once
// every interval on deals of dealDuration: a quarter of the duration, at
// most DefaultRenewHorizon, so that short deals are not renewed the moment
// they are made, and at least two intervals. With a horizon shorter than
// the interval, the run before a deal's end could fall before its horizon
// and the next after its end: the deal would expire, not be renewed (a
// daemon with 48-hour epochs lost half of its 30-day deals so).
func RenewHorizon(interval, dealDuration time.Duration) time.Duration {
	return max(min(DefaultRenewHorizon, dealDuration/4), 2*interval)
}

// RenewOptions say which deals RenewDeals renews and on what terms.
type RenewOptions struct {
	// Horizon: deals ending within it of now are renewed (0:
	// DefaultRenewHorizon).
	Horizon time.Duration
	// Prices, if set, are the terms of every renewal. Without them, a
	// deal is renewed on the terms of its provider's standing ask when
	// the client's Market has one (a provider that changed its prices
	// refuses a renewal below them), provided the ask still passes the
	// Market's Eligible; else on the deal's own terms, collateral
	// included.
	Prices *book.Prices
	// Keep, if set, says whether a deal is worth renewing (its file is
	// still wanted, its provider still trusted); nil renews every one
	// that can be.
	Keep func(*ledger.Deal) bool
}

// Renewals counts what RenewDeals did.
type Renewals struct {
	// Renewed counts renewals countersigned and recorded.
	Renewed int
	// Refused counts renewals a provider refused or could not be asked.
	Refused int
	// Declined counts deals this client did not renew because their
	// provider's standing ask no longer passes its Market's Eligible (a
	// price above its limit, audits scoring too low); they are left to
	// expire.
	Declined int
	// Expired counts deals past their End, not renewed, ended as expired.
	Expired int
	// Failed counts failed deals that had no End yet, ended as failed.
	Failed int
}

// RenewDeals looks after the life of this node's deals as a client at
// time now. A deal ending within the horizon whose shard is proven and
// passing (market.Transition lets it renew) and that Keep keeps is
// renewed: a new deal from its End, proposed to its provider and, once
// countersigned, recorded. A deal past its End that was not renewed gets
// an End of reason expired; a failed one that Settle could not end gets
// its failed End. Ends are recorded here and handed to the providers.
// Refusals and unreachable providers are counted, not errors: the error
// is this node's own ledger failing.
func (c *Client) RenewDeals(ctx context.Context, now time.Time, opts RenewOptions) (Renewals, error) {
	var out Renewals
	b := c.opts.Book
	if b == nil {
		return out, nil
	}
	if opts.Horizon <= 0 {
		opts.Horizon = DefaultRenewHorizon
	}
	type startKey struct {
		shard            dsn.ShardID
		client, provider ledger.PublicKey
		start            uint64
	}
	infos := b.DealInfos()
	starts := map[startKey]bool{}
	for _, i := range infos {
		starts[startKey{i.Deal.Shard, i.Deal.Client, i.Deal.Provider, i.Deal.Start}] = true
	}
	t := uint64(max(now.Unix(), 0))
	horizon := t + uint64(opts.Horizon/time.Second)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, maxAuditsInFlight)
	for _, i := range infos {
		d := i.Deal
		if d.Client != b.Self() || i.End != nil || starts[startKey{d.Shard, d.Client, d.Provider, d.End}] {
			continue // not this node's to renew, ended, or renewed already
		}
		p, known := b.PeerOf(d.Provider)
		var act func() (*int, error)
		switch {
		case i.State.Status == market.DealFailed:
			act = func() (*int, error) {
				return &out.Failed, c.endDeal(ctx, p, d, min(max(t, d.Start), d.End), ledger.EndFailed)
			}
		case d.End <= t:
			act = func() (*int, error) { return &out.Expired, c.endDeal(ctx, p, d, d.End, ledger.EndExpired) }
		case d.End <= horizon && known && (opts.Keep == nil || opts.Keep(d)):
			if _, err := market.Transition(i.State, market.EventRenew); err != nil {
				continue // never proven: left to expire
			}
			act = func() (*int, error) { return c.renew(ctx, p, d, opts.Prices, &out) }
		default:
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			n, err := act()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if n != nil {
				*n++
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// renew proposes the renewal of d to its provider p and records it, on
// the terms pr, else p's standing ask, else d's own (RenewOptions.Prices).
// It returns the counter to add one to: Renewed, Refused when p refuses
// or cannot be reached, or Declined when p's ask no longer fits. Callers
// hold no lock; counting is theirs.
func (c *Client) renew(ctx context.Context, p dsn.PeerID, d *ledger.Deal, pr *book.Prices, out *Renewals) (*int, error) {
	b := c.opts.Book
	if pr == nil {
		if asked, ok := c.askedTerms(p); ok {
			if err := c.opts.Market.Eligible(p, int64(min(d.Size, math.MaxInt64)), 0); err != nil {
				c.log.Info("deal not renewed: its provider's ask no longer fits", "provider", p, "shard", d.Shard.Short(), "err", err)
				return &out.Declined, nil
			}
			pr = &asked
		}
	}
	var r *ledger.Deal
	var err error
	if pr != nil {
		r, err = b.RenewalAt(d, *pr)
	} else {
		r, err = b.Renewal(d)
	}
	if err != nil {
		return nil, err
	}
	signed, err := c.proposeDeal(ctx, p, r)
	if err != nil {
		c.log.Warn("deal not renewed", "provider", p, "shard", d.Shard.Short(), "err", err)
		return &out.Refused, nil
	}
	if err := b.Record(ctx, signed); err != nil {
		return nil, fmt.Errorf("renew deal of shard %s: record: %w", d.Shard.Short(), err)
	}
	return &out.Renewed, nil
}

// CancelDeal ends, as cancelled, every deal of this node's with provider
// p for shard id that has not ended and runs past now: the client moved
// the shard elsewhere (repair re-placed it) and stops paying for it. A
// deal that has not started yet (a renewal) ends at its start. The Ends
// are recorded and handed to p. It returns how many deals it ended.
func (c *Client) CancelDeal(ctx context.Context, p dsn.PeerID, id dsn.ShardID, now time.Time) (int, error) {
	b := c.opts.Book
	if b == nil {
		return 0, nil
	}
	pk, err := b.KeyOf(p)
	if err != nil {
		return 0, fmt.Errorf("cancel deal of shard %s: %w", id.Short(), err)
	}
	t := uint64(max(now.Unix(), 0))
	n := 0
	var errs []error
	for _, i := range b.DealInfos() {
		d := i.Deal
		if d.Shard != id || d.Client != b.Self() || d.Provider != pk || i.End != nil || d.End <= t {
			continue
		}
		if err := c.endDeal(ctx, p, d, max(t, d.Start), ledger.EndCancelled); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
