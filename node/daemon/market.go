package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/atomicfile"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/market"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// AskTopic is the gossip topic providers publish their asks on.
const AskTopic = "/dsn/market/asks/1"

// askValidity is how long a published ask stands; providers publish a
// fresh one every askEvery, well within it.
const (
	askValidity = time.Hour
	askEvery    = 10 * time.Minute
)

// asks is the node's book of providers' asks, as they arrive by gossip.
// It implements node.Market for the node's client.
type asks struct {
	mu     sync.Mutex
	book   *market.AskBook
	keyOf  func(dsn.PeerID) (ledger.PublicKey, error)
	limits market.ClientLimits
	now    func() time.Time
	// reps is each provider's reputation from this node's own audits of
	// it (market.DefaultReputation), saved to the repo's ReputationFile
	// (repPath) after changes, so that a restart does not trust afresh a
	// provider that failed its audits.
	reps    market.Reputations
	repPath string
	// repGen counts changes to reps; repSaved is the count last saved.
	repGen, repSaved uint64
}

// audited folds one audit of p into its reputation.
func (a *asks) audited(p dsn.PeerID, o market.AuditOutcome) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.reps[p]
	if !ok {
		r = market.DefaultReputation.New()
	}
	if r, err := market.DefaultReputation.Update(r, o); err == nil {
		a.reps[p] = r
		a.repGen++
	}
}

// loadReputations reads the reputations saved at repPath, if any. A file
// that does not decode is kept aside as repPath+".bad" and the node starts
// with no record rather than not at all: reputations are this node's own
// opinion, rebuilt by the next audits, and the ledger keeps the signed
// outcomes they came from.
func (a *asks) loadReputations(log *slog.Logger) error {
	b, err := atomicfile.ReadBounded(a.repPath, maxReputationFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load reputations: %w", err)
	}
	var rs market.Reputations
	if err := rs.UnmarshalBinary(b); err != nil {
		log.Error("reputation file unreadable; set aside, starting with no record", "path", a.repPath, "err", err)
		if err := os.Rename(a.repPath, a.repPath+".bad"); err != nil {
			return fmt.Errorf("load reputations: %w", err)
		}
		return nil
	}
	a.mu.Lock()
	a.reps = rs
	a.mu.Unlock()
	return nil
}

// saveReputations writes the reputations to repPath if they changed since
// the last save.
func (a *asks) saveReputations() error {
	a.mu.Lock()
	if a.repGen == a.repSaved || a.repPath == "" {
		a.mu.Unlock()
		return nil
	}
	gen := a.repGen
	b, err := a.reps.MarshalBinary()
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save reputations: %w", err)
	}
	if err := atomicfile.Write(a.repPath, b, 0o600); err != nil {
		return fmt.Errorf("save reputations: %w", err)
	}
	a.mu.Lock()
	a.repSaved = max(a.repSaved, gen)
	a.mu.Unlock()
	return nil
}

// maxReputationFile bounds the reputation file read at start: a full
// table of market.MaxReputations providers with 38-byte IDs fits.
const maxReputationFile = market.MaxReputations * 80

// reputation returns p's reputation, if this node has audited it.
func (a *asks) reputation(p dsn.PeerID) (market.Reputation, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.reps[p]
	return r, ok
}

func (a *asks) add(from dsn.PeerID, b []byte) error {
	var ask market.Ask
	if err := ask.UnmarshalBinary(b); err != nil {
		return err
	}
	// An ask travels only from its own provider: a peer cannot speak
	// for another.
	k, err := a.keyOf(from)
	if err != nil {
		return err
	}
	if ask.Provider != k {
		return fmt.Errorf("ask of %x published by another peer", ask.Provider[:6])
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.book.Add(ask, a.now())
}

func (a *asks) get(p dsn.PeerID) (market.Ask, bool) {
	k, err := a.keyOf(p)
	if err != nil {
		return market.Ask{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ask, ok := a.book.Get(k)
	return ask, ok && !ask.Expired(a.now())
}

// Eligible implements node.Market: a provider this node's audits have
// scored below the market's threshold is passed over; with a price
// limit, a provider also needs a standing ask that fits it.
func (a *asks) Eligible(p dsn.PeerID, size int64, maxPrice uint64) error {
	if r, ok := a.reputation(p); ok && r.Score() < market.DefaultMinScore {
		return fmt.Errorf("%s's audits score %.3f, below %.2f", p, r.Score(), market.DefaultMinScore)
	}
	if maxPrice == 0 {
		maxPrice = a.limits.MaxPricePerGiBMonth
	}
	if maxPrice == 0 {
		return nil
	}
	ask, ok := a.get(p)
	if !ok {
		return fmt.Errorf("no standing ask from %s, so no price to hold to the limit of %d", p, maxPrice)
	}
	limits := a.limits
	limits.MaxPricePerGiBMonth = maxPrice
	return ask.Fits(limits, size, a.now())
}

// Vetted implements node.Market: p has passed market.DefaultReputation's
// vetting count of this node's audits.
func (a *asks) Vetted(p dsn.PeerID) bool {
	r, ok := a.reputation(p)
	return ok && r.Vetted
}

// Prices implements node.Market.
func (a *asks) Prices(p dsn.PeerID) (uint64, uint64, bool) {
	ask, ok := a.get(p)
	if !ok {
		return 0, 0, false
	}
	return ask.PricePerGiBMonth, ask.PricePerGiB, true
}

// CollateralPerGiB implements node.CollateralAsks: deals stake the
// collateral rate of the provider's standing ask.
func (a *asks) CollateralPerGiB(p dsn.PeerID) (uint64, bool) {
	ask, ok := a.get(p)
	return ask.CollateralPerGiB, ok
}

// List returns every ask in the book.
func (a *asks) List() []market.Ask {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.book.Prune(a.now())
	return a.book.Asks()
}

// ownAsk is this provider's ask: its terms, its free space, valid for
// askValidity.
func (d *Daemon) ownAsk(ctx context.Context) (*market.Ask, error) {
	u, err := d.store.Usage(ctx)
	if err != nil {
		return nil, err
	}
	t := d.repo.Config.Terms()
	now := time.Now()
	ask := &market.Ask{
		Seq:              uint64(now.UnixNano()),
		PricePerGiBMonth: t.PricePerGiBMonth,
		PricePerGiB:      t.PricePerGiB,
		CollateralPerGiB: t.CollateralPerGiB,
		FreeCapacity:     uint64(max(u.Capacity-u.Used, 0)),
		MinShardSize:     1,
		MaxShardSize:     dsn.MaxShardSize,
		ValidUntil:       uint64(now.Add(askValidity).Unix()),
	}
	if err := ask.Sign(d.opts.LedgerKey); err != nil {
		return nil, err
	}
	return ask, nil
}

// gossipAsks takes in the asks others publish and, for a provider,
// publishes its own every askEvery.
func (d *Daemon) gossipAsks(ctx context.Context) {
	g, ok := d.host.(gossiper)
	if !ok || d.asks == nil {
		return
	}
	topic, err := g.Join(AskTopic)
	if err != nil {
		d.log.Warn("ask gossip off", "err", err)
		return
	}
	var watch sync.WaitGroup
	defer func() {
		topic.Close()
		watch.Wait()
	}()
	watch.Go(func() {
		for {
			from, b, err := topic.Next(ctx)
			if err != nil {
				return
			}
			if err := d.asks.add(from, b); err != nil {
				d.log.Debug("ask not taken", "peer", d.opts.PeerString(from), "err", err)
			}
		}
	})
	if d.store == nil || d.opts.LedgerKey == nil {
		<-ctx.Done()
		return
	}
	// Gossip reaches only the peers in the mesh, which forms over the
	// first heartbeats after a node starts: publish again soon, then
	// every epoch or askEvery, whichever is shorter.
	every := min(d.repo.Config.EpochOrDefault(), askEvery)
	early := []time.Duration{time.Second, 5 * time.Second, 20 * time.Second}
	for {
		if ask, err := d.ownAsk(ctx); err != nil {
			d.log.Warn("ask", "err", err)
		} else if b, err := ask.MarshalBinary(); err == nil {
			if err := topic.Publish(ctx, b); err != nil && ctx.Err() == nil {
				d.log.Debug("publish ask", "err", err)
			}
		}
		wait := every
		if len(early) > 0 {
			wait, early = min(early[0], every), early[1:]
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// newAsks makes the node's ask book, with the config's price limit;
// reputations are saved at repPath ("": not saved).
func newAsks(keyOf func(dsn.PeerID) (ledger.PublicKey, error), maxPrice uint64, repPath string) *asks {
	limits := market.DefaultLimits()
	limits.MaxPricePerGiBMonth = maxPrice
	// The score is checked by Eligible from this node's own audits and
	// the vetting limit by placement (node.Market.Vetted); Fits only
	// looks at the ask.
	limits.MinScore = 0
	limits.MaxUnvetted = math.MaxInt
	return &asks{book: market.NewAskBook(0), keyOf: keyOf, limits: limits, now: time.Now, reps: market.Reputations{}, repPath: repPath}
}

func (d *Daemon) handleAsks(w http.ResponseWriter, r *http.Request) {
	out := api.Asks{Asks: []api.Ask{}}
	if d.asks != nil {
		for _, a := range d.asks.List() {
			out.Asks = append(out.Asks, api.Ask{
				Provider: d.partyString(ledger.PublicKey(a.Provider)), PricePerGiBMonth: a.PricePerGiBMonth, PricePerGiB: a.PricePerGiB,
				CollateralPerGiB: a.CollateralPerGiB, FreeCapacity: a.FreeCapacity,
				ValidUntil: time.Unix(int64(a.ValidUntil), 0).UTC().Format(time.RFC3339),
			})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
