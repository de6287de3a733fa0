package daemon

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/atomicfile"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node"
	"github.com/dsn-project/dsn/node/book"
	"github.com/dsn-project/dsn/node/ledgerproto"
	"github.com/dsn-project/dsn/node/owned"
	"github.com/dsn-project/dsn/node/p2p"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/proofs/compact"
)

// Host is what the daemon needs from the network: streams to peers, the
// DHT, and the bookkeeping around them. *p2p.Host is the real one; tests
// use the in-process transport.
type Host interface {
	dsn.Transport
	dsn.Router
	// Addrs are the addresses others can reach this node at, each ending
	// in /p2p/<peer id>.
	Addrs() []string
	// RoutingTableSize is the number of peers in the DHT routing table.
	RoutingTableSize() int
	// Bootstrap connects to the bootstrap and remembered peers and fills
	// the routing table.
	Bootstrap(ctx context.Context) error
	// SavePeers writes the peers worth remembering to the repo.
	SavePeers() error
	// WaitForPeers returns once at least n peers are in the routing table.
	WaitForPeers(ctx context.Context, n int) error
	Close() error
}

// Intervals of the daemon's background work.
const (
	savePeersEvery = time.Minute
	// saveReputationsEvery is how often changed reputations are saved:
	// a crash loses at most this much of this node's audit opinions,
	// which the next audits rebuild.
	saveReputationsEvery = time.Minute
	reannounceEvery      = 12 * time.Hour // provider records live 48 h in the DHT
	bootstrapRetry       = 2 * time.Second
	// lowWater is the routing table size below which a node keeps
	// bootstrapping; above it the DHT's own refresh finds more peers.
	lowWater        = 8
	bootstrapMax    = time.Minute
	shutdownTimeout = 10 * time.Second
)

// Options tune a daemon beyond its config.
type Options struct {
	Logger *slog.Logger
	// PeerString formats a peer ID for people (nil: the ID as is).
	PeerString func(dsn.PeerID) string
	// Client configures the node's client; its Router and Logger are set by
	// the daemon when nil.
	Client node.ClientOptions
	// Timeouts of API requests (0: defaults).
	API APIOptions
	// ProofKey is the owner's key for compact proofs: with it the node
	// tags the shards it stores and audits them with compact proofs;
	// without it (tests) only public Merkle audits run.
	ProofKey *compact.Key
	// LedgerKey signs the node's ledger (the identity key); with KeyOf,
	// which gives the ledger key of a peer, it turns the ledger on.
	// Without them (tests) the node keeps no ledger.
	LedgerKey ed25519.PrivateKey
	KeyOf     func(dsn.PeerID) (ledger.PublicKey, error)
	// PeerOf, if set, is KeyOf's inverse, so that the node can reach the
	// other party of any deal in its ledger, not only those met since it
	// started.
	PeerOf func(ledger.PublicKey) (dsn.PeerID, error)
}

// Daemon is a running node: a shard store served to the network when the
// node is a provider, a client for its own files, and the HTTP API.
type Daemon struct {
	repo      *Repo
	host      Host
	log       *slog.Logger
	opts      Options
	store     *node.Announcer // nil unless a provider
	provider  *node.Provider  // serves store; nil unless a provider
	client    *node.Client
	files     *owned.DB  // the files this node stored, with their audits
	book      *book.Book // the node's ledger; nil without Options.LedgerKey
	asks      *asks      // providers' asks, from gossip; nil without a ledger
	ledgerSrv *ledgerproto.Server
	witness   *book.Witness
	api       *http.Server
	addr      net.Addr
	token     string // every API request must present it

	cancel context.CancelFunc
	bg     sync.WaitGroup
	once   sync.Once
	err    error
}

// Start runs a node on host for the open repo r: it opens the shard store
// (when the config gives the node capacity) and serves it, starts the API
// and writes the repo's api and pid files, and bootstraps in the
// background. The caller keeps ownership of r and host and closes them
// after Stop.
func Start(ctx context.Context, r *Repo, host Host, opts Options) (*Daemon, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.PeerString == nil {
		opts.PeerString = func(p dsn.PeerID) string { return string(p) }
	}
	d := &Daemon{repo: r, host: host, log: log, opts: opts}
	cfg := r.Config

	if cfg.Capacity > 0 {
		st, err := shardstore.Open(r.Path(ShardsDir), shardstore.Options{Capacity: cfg.Capacity, Logger: log.With("component", "shardstore"), Sidecars: node.ProofSidecars})
		if err != nil {
			return nil, fmt.Errorf("start: %w", err)
		}
		d.store = node.ProvidingStore(st, host, log.With("component", "announce"))
		d.provider = node.ServeProvider(host, r.Path(ShardsDir), d.store, log.With("component", "shardproto"))
	}
	files, err := owned.Open(r.Path(FilesDir), log.With("component", "owned"))
	if err != nil {
		d.closeStore()
		return nil, fmt.Errorf("start: %w", err)
	}
	d.files = files
	if opts.LedgerKey != nil {
		if err := d.openLedger(); err != nil {
			d.closeStore()
			return nil, fmt.Errorf("start: %w", err)
		}
	}
	copts := opts.Client
	if copts.Book == nil {
		copts.Book = d.book
	}
	if d.book != nil && opts.KeyOf != nil {
		d.asks = newAsks(opts.KeyOf, cfg.MaxPricePerGiBMonth, r.Path(ReputationFile))
		if err := d.asks.loadReputations(log); err != nil {
			d.closeStore()
			return nil, fmt.Errorf("start: %w", err)
		}
		if copts.Market == nil {
			copts.Market = d.asks
		}
	}
	if copts.Router == nil {
		copts.Router = host
	}
	if copts.ProofKey == nil {
		copts.ProofKey = opts.ProofKey
	}
	if copts.Logger == nil {
		copts.Logger = log.With("component", "client")
	}
	d.client = node.NewClient(host, copts)

	ln, err := net.Listen("tcp", cfg.API)
	if err != nil {
		d.closeStore()
		return nil, fmt.Errorf("start: api: %w", err)
	}
	d.addr = ln.Addr()
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		ln.Close()
		d.closeStore()
		return nil, fmt.Errorf("start: api token: %w", err)
	}
	d.token = hex.EncodeToString(tok[:])
	d.api = d.newAPIServer(opts.API)
	go func() {
		if err := d.api.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("api server stopped", "err", err)
		}
	}()
	if err := atomicfile.Write(r.Path(PIDFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		d.stopAPI()
		d.closeStore()
		return nil, fmt.Errorf("start: %w", err)
	}
	if err := atomicfile.Write(r.Path(TokenFile), []byte(d.token+"\n"), 0o600); err != nil {
		d.stopAPI()
		d.closeStore()
		os.Remove(r.Path(PIDFile))
		return nil, fmt.Errorf("start: %w", err)
	}
	// The api file is written last: once it is there, the node answers.
	if err := atomicfile.Write(r.Path(APIFile), []byte(d.addr.String()+"\n"), 0o600); err != nil {
		d.stopAPI()
		d.closeStore()
		os.Remove(r.Path(PIDFile))
		os.Remove(r.Path(TokenFile))
		return nil, fmt.Errorf("start: %w", err)
	}

	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	d.bg.Go(func() { d.bootstrap(bctx) })
	d.bg.Go(func() { d.every(bctx, savePeersEvery, d.savePeers) })
	d.bg.Go(func() { d.auditLoop(bctx) })
	d.bg.Go(func() { d.gossipCheckpoints(bctx) })
	d.bg.Go(func() { d.gossipAsks(bctx) })
	if d.asks != nil {
		d.bg.Go(func() { d.every(bctx, saveReputationsEvery, d.saveReputations) })
	}
	if d.book != nil {
		d.bg.Go(func() { d.every(bctx, cfg.EpochOrDefault(), d.renewDeals) })
	}
	if d.store != nil {
		d.bg.Go(func() { d.every(bctx, reannounceEvery, d.reannounce) })
	}
	log.Info("node running", "peer", opts.PeerString(host.Self()), "api", d.addr.String(), "provider", d.store != nil, "capacity", cfg.Capacity)
	return d, nil
}

// APIAddr is the address the API listens on.
func (d *Daemon) APIAddr() string { return d.addr.String() }

// Client is the node's client, for storing and retrieving its own files.
func (d *Daemon) Client() *node.Client { return d.client }

// bootstrap joins the network and keeps the node in it: it retries with
// backoff while the routing table is thin, below lowWater or the size of
// the bootstrap list (a node started before some of its bootstrap peers
// meets them once they are up; one that lost its peers tries its
// remembered and bootstrap peers again), and announces the shards held the
// first time the node is in.
func (d *Daemon) bootstrap(ctx context.Context) {
	wait := bootstrapRetry
	announced := false
	quiet := false
	thin := func() bool {
		return d.host.RoutingTableSize() < min(lowWater, max(1, len(d.repo.Config.Bootstrap)))
	}
	for {
		if thin() {
			err := d.host.Bootstrap(ctx)
			switch {
			case err == nil:
				d.log.Info("bootstrapped", "routing_table", d.host.RoutingTableSize())
			case errors.Is(err, p2p.ErrNoBootstrapPeers):
				if !quiet {
					d.log.Info("no bootstrap peers configured or remembered: waiting for peers to connect")
					quiet = true
				}
			case ctx.Err() == nil:
				d.log.Warn("bootstrap failed; will retry", "err", err, "retry_in", wait)
			}
		}
		if d.host.RoutingTableSize() > 0 {
			wait = bootstrapRetry
			if !announced {
				// Remembered at once, not only every savePeersEvery: a
				// node killed in its first minute, with no bootstrap
				// list of its own, must still find its way back.
				d.savePeers(ctx)
				if d.store != nil {
					// In the background: a pass over many shards
					// must not hold up this loop.
					d.bg.Go(func() { d.reannounce(ctx) })
				}
				announced = true
			}
		}
		if !sleep(ctx, wait) {
			return
		}
		if thin() {
			wait = min(2*wait, bootstrapMax)
		}
	}
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (d *Daemon) every(ctx context.Context, interval time.Duration, f func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

func (d *Daemon) saveReputations(context.Context) {
	if err := d.asks.saveReputations(); err != nil {
		d.log.Warn("save reputations", "err", err)
	}
}

func (d *Daemon) savePeers(context.Context) {
	if err := d.host.SavePeers(); err != nil {
		d.log.Warn("save peers", "err", err)
	}
}

// reannounce announces every shard held again, so that provider records
// outlive their expiry and announcements dropped under load are made
// eventually. It hands the shards over one at a time as the announcing
// goroutines take them, after any fresh shard, so it returns only once
// the last is handed over: a pass over many shards takes a while.
func (d *Daemon) reannounce(ctx context.Context) {
	n := 0
	for info, err := range d.store.Shards(ctx) {
		if err != nil {
			d.log.Warn("re-announce: list shards", "err", err)
			return
		}
		if err := d.store.AnnounceWait(ctx, info.ID); err != nil {
			d.log.Debug("re-announce cut short", "announced", n, "err", err)
			return
		}
		n++
	}
	d.log.Debug("re-announced shards", "count", n)
}

// Stop shuts the node down: the API first (so no new work starts), then
// background work, then the store. It saves the peers and removes the api
// and pid files. It is safe to call more than once.
func (d *Daemon) Stop() error {
	d.once.Do(func() {
		var errs []error
		d.stopAPI()
		d.cancel()
		d.bg.Wait()
		if err := d.host.SavePeers(); err != nil {
			errs = append(errs, fmt.Errorf("save peers: %w", err))
		}
		if d.asks != nil {
			if err := d.asks.saveReputations(); err != nil {
				errs = append(errs, err)
			}
		}
		if d.provider != nil {
			d.provider.Stop()
		}
		if err := d.closeStore(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		for _, f := range []string{APIFile, TokenFile, PIDFile} {
			if err := os.Remove(d.repo.Path(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		d.err = errors.Join(errs...)
	})
	return d.err
}

func (d *Daemon) stopAPI() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := d.api.Shutdown(ctx); err != nil {
		d.api.Close() // requests still running are cut off
	}
}

// closeStore closes the node's databases: the shard store, the owner's
// records and the ledger, whichever are open.
func (d *Daemon) closeStore() error {
	var errs []error
	if d.ledgerSrv != nil {
		d.ledgerSrv.Unregister(d.host)
		d.ledgerSrv = nil
	}
	if d.book != nil {
		if err := d.book.Close(); err != nil {
			errs = append(errs, fmt.Errorf("ledger: %w", err))
		}
		d.book = nil
	}
	if d.files != nil {
		if err := d.files.Close(); err != nil {
			errs = append(errs, fmt.Errorf("owner records: %w", err))
		}
		d.files = nil
	}
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	return errors.Join(errs...)
}
