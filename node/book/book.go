package book

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/market"
)

// Terms are the prices a node offers as a client and accepts, at least,
// as a provider, and how long its deals last. Amounts are in nano-units
// (10^-9 of a unit): an epoch of seconds on a shard of megabytes earns a
// few of them, which coarser units would round to nothing.
type Terms struct {
	// PricePerGiBMonth is the price of keeping one GiB for 30 days.
	PricePerGiBMonth uint64
	// PricePerGiB is the price of serving one GiB.
	PricePerGiB uint64
	// DealDuration is how long a deal a client proposes lasts.
	DealDuration time.Duration
	// CollateralPerGiB is the collateral per GiB of shard the node asks
	// of its providers as a client and stakes, at most, as a provider.
	CollateralPerGiB uint64
}

// DefaultTerms are a node's terms unless its config says otherwise: one
// unit (10^9 nano-units) per GiB-month kept, a tenth of that per GiB
// served, deals of 30 days, and a collateral of two units per GiB.
//
// The collateral is two months of the storage price. A provider that
// drops a shard saves at most the rest of a 30-day deal, about one
// month of what the price pays for; staking twice that makes dropping a
// shard a loss however early it happens, and the second month pays the
// client for the repair (fetching k shards and placing a new one, at a
// tenth of a unit per GiB served, costs far less).
var DefaultTerms = Terms{PricePerGiBMonth: 1_000_000_000, PricePerGiB: 100_000_000, DealDuration: 30 * 24 * time.Hour,
	CollateralPerGiB: 2_000_000_000}

// Prices are the terms of one deal: what a client pays and what
// collateral rate its provider stakes at.
type Prices struct {
	PerGiBMonth, PerGiB uint64
	// CollateralPerGiB sets the deal's Collateral by market.Collateral.
	CollateralPerGiB uint64
}

// MonthSeconds is the month of prices per GiB-month.
const MonthSeconds = 30 * 24 * 3600

// Options configure Open.
type Options struct {
	Terms Terms
	// KeyOf returns the ledger key of a peer: for libp2p peers, the
	// Ed25519 key their ID embeds.
	KeyOf func(dsn.PeerID) (ledger.PublicKey, error)
	// PeerOf returns the peer whose ledger key is k (for libp2p, the
	// peer ID that embeds it); nil means only peers named since the
	// book opened are known (see Book.PeerOf).
	PeerOf func(k ledger.PublicKey) (dsn.PeerID, error)
	// Holds, for a provider, returns the size of a shard it holds, or an
	// error if it does not hold it; nil means the node holds nothing and
	// countersigns no deal.
	Holds func(ctx context.Context, id dsn.ShardID) (int64, error)
	// Now is the clock (nil: time.Now), for tests.
	Now    func() time.Time
	Logger *slog.Logger
}

// Errors.
var (
	// ErrRefused is returned when a node will not countersign a deal:
	// it does not hold the shard, or the terms are below its own.
	ErrRefused = errors.New("deal refused")
	// ErrUnknownPeer is returned when a peer's ledger key cannot be had.
	ErrUnknownPeer = errors.New("no ledger key for peer")
)

// maxPeersKept bounds the key-to-peer map PeerOf reads first.
const maxPeersKept = 1 << 16

// clockSkew is how far a proposed deal's start may be from the
// provider's clock.
const clockSkew = 10 * time.Minute

// Book is a node's ledger in service. It is safe for concurrent use.
type Book struct {
	log  *ledger.Log
	key  ed25519.PrivateKey
	self ledger.PublicKey
	opts Options
	lg   *slog.Logger
	app  *appender

	mu     sync.Mutex
	deals  map[dealKey]*ledger.Deal // the latest deal per shard and parties
	tracks map[dealKey][]*tracked   // every deal per shard and parties, by start
	peers  map[ledger.PublicKey]dsn.PeerID
}

type dealKey struct {
	shard            dsn.ShardID
	client, provider ledger.PublicKey
}

// Open opens the node's log in dir, signed with key.
func Open(dir string, key ed25519.PrivateKey, opts Options) (*Book, error) {
	if opts.KeyOf == nil {
		return nil, errors.New("book: Options.KeyOf is required")
	}
	if opts.Terms == (Terms{}) {
		opts.Terms = DefaultTerms
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	l, err := ledger.Open(dir, key, &ledger.Options{Logger: lg})
	if err != nil {
		return nil, err
	}
	b := &Book{log: l, key: key, self: ledger.PublicKeyOf(key), opts: opts, lg: lg,
		deals: map[dealKey]*ledger.Deal{}, tracks: map[dealKey][]*tracked{}, peers: map[ledger.PublicKey]dsn.PeerID{}}
	if err := b.indexDeals(); err != nil {
		l.Close()
		return nil, err
	}
	b.app = newAppender(l, b.indexEntry)
	return b, nil
}

// indexDeals reads the entries already in the log, so that credits,
// penalties and receipts can name their deals, and each deal's state is
// known.
func (b *Book) indexDeals() error {
	n := b.log.Size()
	for i := range n {
		raw, err := b.log.Entry(i)
		if err != nil {
			return fmt.Errorf("book: read entry %d: %w", i, err)
		}
		e, err := ledger.DecodeEntry(raw)
		if err != nil {
			return fmt.Errorf("book: entry %d: %w", i, err)
		}
		b.indexEntry(e)
	}
	return nil
}

func (b *Book) indexEntry(e ledger.Entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.track(e)
}

// Close stops appending and closes the log.
func (b *Book) Close() error {
	b.app.close()
	return b.log.Close()
}

// Self is the node's ledger key.
func (b *Book) Self() ledger.PublicKey { return b.self }

// Log is the node's log, for reading (Verify, Balance, proofs).
func (b *Book) Log() *ledger.Log { return b.log }

// Terms are the node's prices.
func (b *Book) Terms() Terms { return b.opts.Terms }

// Record appends an entry to the node's own log, durably, sharing a
// synced write with concurrent appends.
func (b *Book) Record(ctx context.Context, e ledger.Entry) error {
	return b.app.append(ctx, e)
}

func (b *Book) keyOf(p dsn.PeerID) (ledger.PublicKey, error) {
	k, err := b.opts.KeyOf(p)
	if err != nil {
		return ledger.PublicKey{}, fmt.Errorf("%w %s: %v", ErrUnknownPeer, p, err)
	}
	b.mu.Lock()
	if len(b.peers) < maxPeersKept {
		b.peers[k] = p
	}
	b.mu.Unlock()
	return k, nil
}

// Deal returns the latest deal of this node, as client, with provider p
// for shard id.
func (b *Book) Deal(p dsn.PeerID, id dsn.ShardID) (*ledger.Deal, bool) {
	pk, err := b.keyOf(p)
	if err != nil {
		return nil, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.deals[dealKey{id, b.self, pk}]
	return d, ok
}

// Deals returns the latest deal of every (shard, client, provider) in
// this node's ledger, ordered by start, then shard.
func (b *Book) Deals() []*ledger.Deal {
	b.mu.Lock()
	out := make([]*ledger.Deal, 0, len(b.deals))
	for _, d := range b.deals {
		out = append(out, d)
	}
	b.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		return string(out[i].Shard[:]) < string(out[j].Shard[:])
	})
	return out
}

// NewDeal returns a deal for shard id of size bytes with provider p on
// this node's terms, starting now, audited by this node, signed by it as
// the client.
func (b *Book) NewDeal(p dsn.PeerID, id dsn.ShardID, size int64) (*ledger.Deal, error) {
	return b.NewDealAt(p, id, size, b.opts.Terms.PricePerGiBMonth, b.opts.Terms.PricePerGiB)
}

// NewDealAt is NewDeal at the given prices, a provider's asking prices,
// with the collateral rate of this node's terms.
func (b *Book) NewDealAt(p dsn.PeerID, id dsn.ShardID, size int64, perGiBMonth, perGiB uint64) (*ledger.Deal, error) {
	return b.NewDealWith(p, id, size, Prices{PerGiBMonth: perGiBMonth, PerGiB: perGiB, CollateralPerGiB: b.opts.Terms.CollateralPerGiB})
}

// NewDealWith is NewDeal on the given terms: a provider's ask, whose
// collateral rate sets the deal's Collateral (market.Collateral).
func (b *Book) NewDealWith(p dsn.PeerID, id dsn.ShardID, size int64, pr Prices) (*ledger.Deal, error) {
	pk, err := b.keyOf(p)
	if err != nil {
		return nil, err
	}
	now := b.opts.Now()
	d := &ledger.Deal{
		Shard: id, Size: uint64(size),
		PricePerGiBMonth: pr.PerGiBMonth, PricePerGiB: pr.PerGiB,
		Collateral: market.Collateral(uint64(size), pr.CollateralPerGiB),
		Start:      uint64(now.Unix()), End: uint64(now.Add(b.opts.Terms.DealDuration).Unix()),
		Client: b.self, Provider: pk, Auditors: []ledger.PublicKey{b.self},
	}
	if err := d.SignClient(b.key); err != nil {
		return nil, err
	}
	return d, nil
}

// Renewal returns the deal that renews d on the same terms: same shard,
// parties, auditors, prices and collateral, from d's End for this node's
// DealDuration, signed by this node as the client.
func (b *Book) Renewal(d *ledger.Deal) (*ledger.Deal, error) {
	return b.renewal(d, Prices{PerGiBMonth: d.PricePerGiBMonth, PerGiB: d.PricePerGiB}, d.Collateral)
}

// RenewalAt is Renewal on other terms: a new ask's prices and collateral
// rate.
func (b *Book) RenewalAt(d *ledger.Deal, pr Prices) (*ledger.Deal, error) {
	return b.renewal(d, pr, market.Collateral(d.Size, pr.CollateralPerGiB))
}

func (b *Book) renewal(d *ledger.Deal, pr Prices, collateral uint64) (*ledger.Deal, error) {
	if d.Client != b.self {
		return nil, fmt.Errorf("renew deal of shard %s: this node is not its client", d.Shard.Short())
	}
	r := &ledger.Deal{
		Shard: d.Shard, Size: d.Size, PricePerGiBMonth: pr.PerGiBMonth, PricePerGiB: pr.PerGiB, Collateral: collateral,
		Start: d.End, End: d.End + uint64(b.opts.Terms.DealDuration/time.Second),
		Client: d.Client, Provider: d.Provider, Auditors: append([]ledger.PublicKey(nil), d.Auditors...),
	}
	if err := r.SignClient(b.key); err != nil {
		return nil, fmt.Errorf("renew deal of shard %s: %w", d.Shard.Short(), err)
	}
	return r, nil
}

// ProposeDeal is the provider's side of a deal: it countersigns a deal
// the peer from proposes as its client, for a shard this node holds, at
// prices no lower than its own and a collateral no higher than its terms
// stake, and records it. The deal starts about now, or it renews a deal
// of the same shard and parties: it starts at the End of one in this
// node's log that has not ended and that market.Transition lets renew
// (an active deal: its shard proven, not failed), and not in the past.
func (b *Book) ProposeDeal(ctx context.Context, from dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error) {
	fk, err := b.keyOf(from)
	if err != nil {
		return nil, err
	}
	switch {
	case d.Client != fk:
		return nil, fmt.Errorf("%w: the deal's client is not the peer proposing it", ErrRefused)
	case d.Provider != b.self:
		return nil, fmt.Errorf("%w: the deal names another provider", ErrRefused)
	case b.opts.Holds == nil:
		return nil, fmt.Errorf("%w: this node keeps no shards", ErrRefused)
	case d.PricePerGiBMonth < b.opts.Terms.PricePerGiBMonth || d.PricePerGiB < b.opts.Terms.PricePerGiB:
		return nil, fmt.Errorf("%w: prices %d/GiB-month and %d/GiB served are below this provider's %d and %d",
			ErrRefused, d.PricePerGiBMonth, d.PricePerGiB, b.opts.Terms.PricePerGiBMonth, b.opts.Terms.PricePerGiB)
	}
	if most := market.Collateral(d.Size, b.opts.Terms.CollateralPerGiB); d.Collateral > most {
		return nil, fmt.Errorf("%w: collateral %d for %d bytes is above the %d this provider stakes (%d per GiB)",
			ErrRefused, d.Collateral, d.Size, most, b.opts.Terms.CollateralPerGiB)
	}
	now := b.opts.Now()
	if start := time.Unix(int64(d.Start), 0); start.Before(now.Add(-clockSkew)) || start.After(now.Add(clockSkew)) {
		if err := b.renewable(d, now); err != nil {
			return nil, err
		}
	}
	size, err := b.opts.Holds(ctx, d.Shard)
	if err != nil {
		return nil, fmt.Errorf("%w: shard %s: %v", ErrRefused, d.Shard.Short(), err)
	}
	if uint64(size) != d.Size {
		return nil, fmt.Errorf("%w: shard %s holds %d bytes, the deal says %d", ErrRefused, d.Shard.Short(), size, d.Size)
	}
	signed := *d
	signed.Auditors = append([]ledger.PublicKey(nil), d.Auditors...)
	if err := signed.SignProvider(b.key); err != nil {
		return nil, err
	}
	// The log checks the client's signature and every other rule.
	if err := b.Record(ctx, &signed); err != nil {
		return nil, err
	}
	return &signed, nil
}

// renewable checks that d, which does not start about now, renews a
// deal: see ProposeDeal.
func (b *Book) renewable(d *ledger.Deal, now time.Time) error {
	start := time.Unix(int64(d.Start), 0)
	if start.Before(now.Add(-clockSkew)) {
		return fmt.Errorf("%w: deal starts at %v, in the past", ErrRefused, start.UTC())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range b.tracks[dealKey{d.Shard, d.Client, d.Provider}] {
		if t.deal.End != d.Start {
			continue
		}
		if t.end != nil {
			return fmt.Errorf("%w: the deal it would renew ended (%s at %d)", ErrRefused, t.end.Reason, t.end.At)
		}
		if _, err := market.Transition(t.state, market.EventRenew); err != nil {
			return fmt.Errorf("%w: the deal it would renew is %v: %v", ErrRefused, t.state, err)
		}
		return nil
	}
	return fmt.Errorf("%w: deal starts at %v, more than %v from now, and renews no deal of this shard and parties", ErrRefused, start.UTC(), clockSkew)
}

// Submit is the provider's side of receipts, credits, penalties and
// ends: it records an entry the peer from signed for this node.
func (b *Book) Submit(ctx context.Context, from dsn.PeerID, e ledger.Entry) error {
	fk, err := b.keyOf(from)
	if err != nil {
		return err
	}
	var signer, provider ledger.PublicKey
	switch e := e.(type) {
	case *ledger.Receipt:
		signer, provider = e.Client, e.Provider
	case *ledger.Credit:
		signer, provider = e.Auditor, e.Provider
	case *ledger.Penalty:
		signer, provider = e.Auditor, e.Provider
	case *ledger.End:
		// The log checks the signer is the deal's client or auditor.
		signer, provider = e.Signer, e.Provider
	default:
		return fmt.Errorf("%w: a %v is not submitted, it is proposed", ErrRefused, e.Kind())
	}
	if signer != fk {
		return fmt.Errorf("%w: entry signed for by another party than the peer sending it", ErrRefused)
	}
	if provider != b.self {
		return fmt.Errorf("%w: entry names another provider", ledger.ErrNotParty)
	}
	return b.Record(ctx, e)
}

// NewReceipt returns a receipt, signed by this node as the client, for
// the cumulative bytes provider p has served it in session so far.
func (b *Book) NewReceipt(p dsn.PeerID, id dsn.ShardID, session ledger.SessionID, seq, bytes uint64) (*ledger.Receipt, error) {
	pk, err := b.keyOf(p)
	if err != nil {
		return nil, err
	}
	r := &ledger.Receipt{Provider: pk, Client: b.self, Shard: id, Session: session, Seq: seq, Bytes: bytes}
	if err := r.Sign(b.key); err != nil {
		return nil, err
	}
	return r, nil
}

// Judge returns the credit (pass) or penalty (fail, missed) for an audit
// of the shard of deal d in epoch, signed by this node as its auditor;
// digest is a hash of the audit's transcript. A penalty is Penalty of the
// epoch's value.
func (b *Book) Judge(d *ledger.Deal, epoch uint64, epochSeconds uint64, pass bool, outcome ledger.Outcome, digest [32]byte) (ledger.Entry, error) {
	if pass {
		c := &ledger.Credit{Provider: d.Provider, Client: d.Client, Auditor: b.self, Shard: d.Shard,
			Epoch: epoch, EpochSeconds: epochSeconds, Bytes: d.Size, ProofDigest: digest}
		if err := c.Sign(b.key); err != nil {
			return nil, err
		}
		return c, nil
	}
	p := &ledger.Penalty{Provider: d.Provider, Client: d.Client, Auditor: b.self, Shard: d.Shard,
		Epoch: epoch, EpochSeconds: epochSeconds, Outcome: outcome, Amount: Penalty(d, epochSeconds)}
	if err := p.Sign(b.key); err != nil {
		return nil, err
	}
	return p, nil
}

// Penalty is what a provider forfeits for an epoch it failed or missed:
// twice what the epoch would have earned, the credit it lost and as much
// again, and at least one nano-unit, so that no penalty rounds to
// nothing (market.EpochPenalty). The collateral is not part of it: it is
// forfeited once, by the End that follows the penalty failing the deal
// (EndDeal). It is the ledger's own rule (ledger.PenaltyAmount): a log
// takes a penalty of no other amount.
func Penalty(d *ledger.Deal, epochSeconds uint64) uint64 {
	return ledger.PenaltyAmount(d, epochSeconds)
}

// EpochValue is what keeping the shard of deal d for one epoch of
// epochSeconds earns, in nano-units, rounded down.
func EpochValue(d *ledger.Deal, epochSeconds uint64) uint64 {
	// size × seconds × price / (GiB × month), in 128 bits so that large
	// shards and long epochs cannot overflow.
	num := mul128(mul128(u128{lo: d.Size}, epochSeconds), d.PricePerGiBMonth)
	return div128(num, uint64(1<<30)*MonthSeconds)
}

// Checkpoint publishes and returns the node's latest signed checkpoint.
func (b *Book) Checkpoint(ctx context.Context) ([]byte, error) {
	c, err := b.log.Checkpoint()
	if err != nil {
		return nil, err
	}
	return c.Note, nil
}

// ProveConsistency returns the tree proof between two sizes of the log.
func (b *Book) ProveConsistency(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
	return b.log.ProveConsistency(oldSize, newSize)
}

// ProveInclusion returns the inclusion proof of entry i.
func (b *Book) ProveInclusion(ctx context.Context, i int64) (*ledger.InclusionProof, error) {
	return b.log.ProveInclusion(i)
}
