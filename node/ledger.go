package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/node/book"
	"github.com/dsn-project/dsn/node/ledgerproto"
)

// makeDeal proposes a deal for a shard provider p has just taken, on this
// node's terms, and records the countersigned deal in this node's ledger.
func (c *Client) makeDeal(ctx context.Context, p dsn.PeerID, id dsn.ShardID, size int64) error {
	b := c.opts.Book
	var d *ledger.Deal
	var err error
	if c.opts.Market != nil {
		// At the provider's asking prices, which placement checked
		// against the store's limit.
		if perMonth, perGiB, ok := c.opts.Market.Prices(p); ok {
			d, err = b.NewDealAt(p, id, size, perMonth, perGiB)
		}
	}
	if d == nil && err == nil {
		d, err = b.NewDeal(p, id, size)
	}
	if err != nil {
		return fmt.Errorf("deal: %w", err)
	}
	signed, err := ledgerproto.ProposeDeal(ctx, c.t, p, d)
	if err != nil {
		return fmt.Errorf("deal: %w", err)
	}
	if err := b.Record(ctx, signed); err != nil {
		return fmt.Errorf("deal: record: %w", err)
	}
	return nil
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
			if err := ledgerproto.Submit(ctx, c.t, s.p, r); err != nil && !errors.Is(err, context.Canceled) {
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
// this node's ledger. Aborted audits and shards with no deal are
// skipped, and a shard held for two files is settled once. A provider
// that cannot be reached still gets its penalty in this node's ledger.
// It returns the number of entries recorded.
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
		d, ok := b.Deal(a.Provider, a.ID)
		if !ok {
			continue
		}
		start, end := epoch*epochSeconds, (epoch+1)*epochSeconds
		if d.Start > start || d.End < end {
			continue // the deal does not cover the whole epoch
		}
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
			if err := ledgerproto.Submit(ctx, c.t, x.p, x.e); err != nil {
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
	return recorded, errors.Join(errs...)
}
