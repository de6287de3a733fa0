package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/node/book"
	"github.com/dsn-project/dsn/node/inproc"
	"github.com/dsn-project/dsn/node/ledgerproto"
	"github.com/dsn-project/dsn/node/p2p"
	"github.com/dsn-project/dsn/node/shardproto"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/node/shardstore/memstore"
)

// Provider is a peer that keeps shards for others: a shard store served
// over the shard protocol.
type Provider struct {
	ID     dsn.PeerID
	Dir    string // "" for an in-memory provider
	Store  dsn.ShardStore
	Server *shardproto.Server
	// Audit answers challenges for the shards held; nil when the store
	// keeps no proof material (see auditproto.Holder).
	Audit *auditproto.Server
	// Book is the provider's ledger, when the network keeps ledgers.
	Book *book.Book

	t           dsn.Transport
	stopPrepare context.CancelFunc
	prepared    sync.WaitGroup
}

// ProofSidecars is the shardstore.Options.Sidecars of a provider: the
// Merkle outboard of every shard, built from its bytes as they arrive.
func ProofSidecars(dsn.ShardID, int64) []shardstore.SidecarBuilder {
	return []shardstore.SidecarBuilder{auditproto.OutboardBuilder()}
}

// prepareQueue bounds the shards waiting for their proof material to be
// built; beyond it, a shard's first challenge builds it.
const prepareQueue = 256

// ServeProvider serves store over t: the shard protocol, and, when store
// (or the store an Announcer wraps) keeps sidecars, the challenge
// protocol. Each shard's Merkle outboard is ready before its first audit,
// so that the audit reads only what it samples: built by the store as the
// shard arrives (ProofSidecars), or else in the background right after.
func ServeProvider(t dsn.Transport, dir string, store dsn.ShardStore, log *slog.Logger) *Provider {
	p := &Provider{ID: t.Self(), Dir: dir, Store: store, t: t}
	inner := store
	if a, ok := store.(*Announcer); ok {
		inner = a.ShardStore
	}
	served := store
	if h, ok := inner.(auditproto.Holder); ok {
		senders := newSenders()
		p.Audit = auditproto.NewServer(h, auditproto.ServerOptions{Logger: log, AcceptTags: senders.check})
		p.Audit.Register(t)
		// A store that builds proof material as shards arrive needs no
		// second pass; others get it built in the background.
		var queue chan dsn.ShardID
		if b, ok := inner.(interface{ BuildsSidecars() bool }); !ok || !b.BuildsSidecars() {
			queue = make(chan dsn.ShardID, prepareQueue)
			ctx, cancel := context.WithCancel(context.Background())
			p.stopPrepare = cancel
			p.prepared.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case id := <-queue:
						if err := p.Audit.Prepare(ctx, id); err != nil && ctx.Err() == nil && log != nil {
							log.Warn("build proof material", "shard", id.Short(), "err", err)
						}
					}
				}
			})
		}
		served = &preparingStore{ShardStore: store, queue: queue, senders: senders}
	}
	p.Server = shardproto.NewServer(served, shardproto.ServerOptions{Logger: log})
	p.Server.Register(t)
	return p
}

// senders remembers, for a while, which peer sent which shard. A provider
// takes an owner's compact tags for a shard only from a peer that sent it
// the shard: otherwise anyone could make it keep tags (0.5% of a shard)
// under as many peer IDs as it likes. Owners send tags right after the
// shard, so a bounded, short memory is enough.
type senders struct {
	mu   sync.Mutex
	sent map[senderKey]time.Time
}

type senderKey struct {
	p  dsn.PeerID
	id dsn.ShardID
}

const (
	sendersKept = 1 << 16
	senderTTL   = 10 * time.Minute
)

func newSenders() *senders { return &senders{sent: map[senderKey]time.Time{}} }

func (s *senders) add(p dsn.PeerID, id dsn.ShardID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if len(s.sent) >= sendersKept {
		for k, at := range s.sent {
			if now.Sub(at) > senderTTL {
				delete(s.sent, k)
			}
		}
		if len(s.sent) >= sendersKept {
			// Still full of fresh entries: forget an arbitrary one
			// rather than grow; its owner can store the shard again.
			for k := range s.sent {
				delete(s.sent, k)
				break
			}
		}
	}
	s.sent[senderKey{p, id}] = now
}

// check is auditproto's AcceptTags.
func (s *senders) check(_ context.Context, owner dsn.PeerID, id dsn.ShardID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.sent[senderKey{owner, id}]
	if !ok || time.Since(at) > senderTTL {
		return fmt.Errorf("tags for shard %s are taken only from the peer that stored it, within %v", id.Short(), senderTTL)
	}
	return nil
}

// Stop stops serving and the background work; the store stays open.
func (p *Provider) Stop() {
	p.Server.Unregister(p.t)
	if p.Audit != nil {
		p.Audit.Unregister(p.t)
		if p.stopPrepare != nil {
			p.stopPrepare()
		}
		p.prepared.Wait()
	}
}

// preparingStore queues every shard it receives for its proof material,
// and remembers who sent it.
type preparingStore struct {
	dsn.ShardStore
	queue   chan dsn.ShardID
	senders *senders
}

func (s *preparingStore) ReceiveShard(ctx context.Context, id dsn.ShardID, size int64, r io.Reader) error {
	// A shard already held is acknowledged without its bytes, so asking
	// to store it proves nothing: only the peer whose bytes came in may
	// hand over tags.
	_, err := s.StatShard(ctx, id)
	held := err == nil
	if err := s.ShardStore.ReceiveShard(ctx, id, size, r); err != nil {
		return err
	}
	if p, ok := shardproto.Sender(ctx); ok && !held {
		s.senders.add(p, id)
	}
	if s.queue != nil {
		select {
		case s.queue <- id:
		default: // the first challenge builds it instead
		}
	}
	return nil
}

// LocalNetwork is a network of providers in one process, each with its own
// shard store, plus one client peer that holds nothing. The peers talk over
// the in-process transport, or over real libp2p hosts on 127.0.0.1 with a
// Kademlia DHT. It is what `dsn demo` and whole-network tests run on.
type LocalNetwork struct {
	// Net is the in-process network; nil when the peers use libp2p.
	Net       *inproc.Network
	Providers []*Provider
	Client    *Client
	// ClientBook is the client's ledger; nil unless LocalOptions.Ledger.
	ClientBook *book.Book
	// hosts are the libp2p hosts by peer, providers' and the client's.
	hosts map[dsn.PeerID]*p2p.Host
	// ledgers are the ledger servers of every peer, to unregister.
	ledgers []ledgerServed
}

type ledgerServed struct {
	t dsn.Transport
	s *ledgerproto.Server
	b *book.Book
}

// LocalOptions configures a LocalNetwork.
type LocalOptions struct {
	// Capacity of each provider in bytes; 0 means unlimited.
	Capacity int64
	// Memory keeps shards in memory instead of on disk (dir is unused).
	Memory bool
	// Libp2p runs every peer as a libp2p host on 127.0.0.1 with the DHT,
	// instead of over the in-process transport.
	Libp2p bool
	// Ledger gives every peer a ledger (under dir): deals on store,
	// receipts on retrieval, and what the client settles of its audits.
	Ledger bool
	Logger *slog.Logger
	Client ClientOptions
}

// StartLocalNetwork starts n providers with their stores under dir.
func StartLocalNetwork(ctx context.Context, dir string, n int, opts LocalOptions) (*LocalNetwork, error) {
	if n < 1 || n > 1000 {
		return nil, fmt.Errorf("local network: %d providers is out of range [1, 1000]", n)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &LocalNetwork{}
	// Stores open in parallel: opening is mostly waiting for fsync.
	stores := make([]dsn.ShardStore, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		if opts.Memory {
			stores[i] = memstore.New(opts.Capacity)
			continue
		}
		wg.Go(func() {
			stores[i], errs[i] = shardstore.Open(filepath.Join(dir, providerID(i)), shardstore.Options{Capacity: opts.Capacity, Sidecars: ProofSidecars})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, st := range stores {
			if st != nil {
				st.Close()
			}
		}
		return nil, fmt.Errorf("local network: %w", err)
	}
	// Every peer gets a transport and a router: in-process ones, or a
	// libp2p host that is both.
	var (
		transports = make([]dsn.Transport, n+1)
		routers    = make([]dsn.Router, n+1)
		names      = make([]dsn.PeerID, n+1)
	)
	// Every peer's identity: its libp2p key, and the same key signs its
	// ledger.
	keys := make([]ed25519.PrivateKey, n+1)
	for i := range keys {
		var err error
		if _, keys[i], err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, fmt.Errorf("local network: %w", err)
		}
	}
	if opts.Libp2p {
		hosts, err := startHosts(ctx, keys, log)
		if err != nil {
			for _, st := range stores {
				st.Close()
			}
			return nil, fmt.Errorf("local network: %w", err)
		}
		l.hosts = make(map[dsn.PeerID]*p2p.Host, n+1)
		for i, h := range hosts {
			transports[i], routers[i], names[i] = h, h, h.Self()
			l.hosts[h.Self()] = h
		}
	} else {
		l.Net = inproc.NewNetwork()
		for i := range n + 1 {
			names[i] = dsn.PeerID(providerID(i))
			if i == n {
				names[i] = "client"
			}
			t := l.Net.Add(names[i])
			transports[i], routers[i] = t, peerListRouter{t}
		}
	}
	for i, st := range stores {
		pdir := filepath.Join(dir, providerID(i))
		if opts.Memory {
			pdir = ""
		}
		plog := log.With("peer", l.Name(names[i]))
		l.Providers = append(l.Providers, ServeProvider(transports[i], pdir, ProvidingStore(st, routers[i], plog), plog))
	}
	copts := opts.Client
	if copts.Logger == nil {
		copts.Logger = log.With("peer", "client")
	}
	copts.Router = routers[n]
	if opts.Ledger {
		b, err := l.startLedgers(dir, keys, names, transports, stores, opts.Libp2p, log)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("local network: %w", err)
		}
		copts.Book = b
	}
	l.Client = NewClient(transports[n], copts)
	return l, nil
}

// startLedgers opens a ledger for every peer, serves it, and returns the
// client's (the last peer's).
func (l *LocalNetwork) startLedgers(dir string, keys []ed25519.PrivateKey, names []dsn.PeerID, transports []dsn.Transport, stores []dsn.ShardStore, libp2p bool, log *slog.Logger) (*book.Book, error) {
	if dir == "" {
		return nil, errors.New("ledgers need a directory")
	}
	byName := map[dsn.PeerID]ledger.PublicKey{}
	for i, k := range keys {
		byName[names[i]] = ledger.PublicKeyOf(k)
	}
	keyOf := func(p dsn.PeerID) (ledger.PublicKey, error) {
		if k, ok := byName[p]; ok {
			return k, nil
		}
		if libp2p {
			pk, err := p2p.PublicKey(p)
			if err != nil {
				return ledger.PublicKey{}, err
			}
			return ledger.PublicKey(pk), nil
		}
		return ledger.PublicKey{}, fmt.Errorf("unknown peer %s", p)
	}
	for i, k := range keys {
		opts := book.Options{KeyOf: keyOf, Logger: log}
		name := "client"
		if i < len(stores) {
			st := stores[i]
			opts.Holds = func(ctx context.Context, id dsn.ShardID) (int64, error) { return st.StatShard(ctx, id) }
			name = providerID(i)
		}
		b, err := book.Open(filepath.Join(dir, "ledgers", name), k, opts)
		if err != nil {
			return nil, err
		}
		l.ledgers = append(l.ledgers, ledgerServed{transports[i], ServeLedger(transports[i], b, log), b})
		if i < len(stores) {
			l.Providers[i].Book = b
		} else {
			l.ClientBook = b
		}
	}
	return l.ClientBook, nil
}

// startHosts starts n libp2p hosts on 127.0.0.1 (TCP), the first n-1 as
// DHT servers, all bootstrapped through the first, and waits until every
// routing table holds all the other servers.
func startHosts(ctx context.Context, keys []ed25519.PrivateKey, log *slog.Logger) ([]*p2p.Host, error) {
	n := len(keys)
	hosts := make([]*p2p.Host, 0, n)
	fail := func(err error) ([]*p2p.Host, error) {
		for _, h := range hosts {
			h.Close()
		}
		return nil, err
	}
	for i := range n {
		key, err := crypto.UnmarshalEd25519PrivateKey(keys[i])
		if err != nil {
			return fail(err)
		}
		cfg := p2p.Config{
			ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
			Server:      i < n-1,
			Logger:      log,
		}
		if i > 0 {
			cfg.Bootstrap = hosts[0].Addrs()
		}
		h, err := p2p.New(ctx, key, cfg)
		if err != nil {
			return fail(err)
		}
		hosts = append(hosts, h)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, h := range hosts[1:] {
		if err := h.Bootstrap(ctx); err != nil {
			return fail(err)
		}
	}
	// Kademlia adds a peer to a routing table when the two interact;
	// connect every host to every server so that no table waits for the
	// DHT's periodic refresh.
	var wg sync.WaitGroup
	errs := make([]error, len(hosts))
	for i, h := range hosts {
		wg.Go(func() {
			for _, o := range hosts[:n-1] {
				if o != h {
					errs[i] = errors.Join(errs[i], h.Connect(ctx, o.Addrs()[0]))
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	for i, h := range hosts {
		want := n - 2 // every other server
		if i == n-1 {
			want = n - 1 // the client is no server itself
		}
		if err := h.WaitForPeers(ctx, min(want, 20)); err != nil {
			return fail(err)
		}
	}
	return hosts, nil
}

func providerID(i int) string { return fmt.Sprintf("provider-%02d", i+1) }

// Name returns the form of p to show a person.
func (l *LocalNetwork) Name(p dsn.PeerID) string {
	if l.hosts != nil {
		s := p2p.PeerIDString(p)
		return s[max(0, len(s)-8):]
	}
	return string(p)
}

// Provider returns the provider with the given ID, or nil.
func (l *LocalNetwork) Provider(id dsn.PeerID) *Provider {
	for _, p := range l.Providers {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// Kill takes a provider off the network: it no longer answers, and its
// open transfers fail.
func (l *LocalNetwork) Kill(id dsn.PeerID) {
	if h := l.hosts[id]; h != nil {
		h.Close()
		return
	}
	l.Net.Kill(id)
}

// Close stops the libp2p hosts and closes every provider's store.
func (l *LocalNetwork) Close() error {
	var lerrs []error
	for _, x := range l.ledgers {
		x.s.Unregister(x.t)
		lerrs = append(lerrs, x.b.Close())
	}
	errs := make([]error, len(l.Providers), len(l.Providers)+len(lerrs))
	errs = append(errs, lerrs...)
	var wg sync.WaitGroup
	for _, h := range l.hosts {
		wg.Go(func() { h.Close() })
	}
	for i, p := range l.Providers {
		wg.Go(func() {
			p.Stop()
			if err := p.Store.Close(); err != nil {
				errs[i] = fmt.Errorf("%s: %w", l.Name(p.ID), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
