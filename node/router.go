package node

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/market"
)

// peerListRouter routes by ranking the peers a transport knows, for
// networks without a DHT (the in-process one). Ranking is the same XOR
// metric the DHT uses, so placement follows one rule everywhere. It keeps
// no provider records: retrieval relies on the manifest's hints.
type peerListRouter struct{ t dsn.Transport }

func (r peerListRouter) ClosestPeers(_ context.Context, id dsn.ShardID) ([]dsn.PeerID, error) {
	return market.Rank(id.Multihash(), r.t.Peers()), nil
}

func (peerListRouter) Provide(context.Context, dsn.ShardID) error { return nil }

func (peerListRouter) FindProviders(context.Context, dsn.ShardID, int) ([]dsn.PeerID, error) {
	return nil, nil
}

// candidates returns the peers to try for id, closest first: the router's
// answer, then every other peer the transport knows in the same order, so a
// small or partly unreachable DHT neighbourhood does not stop placement.
func (c *Client) candidates(ctx context.Context, id dsn.ShardID) []dsn.PeerID {
	ctx, cancel := context.WithTimeout(ctx, routeTimeout)
	defer cancel()
	closest, err := c.router.ClosestPeers(ctx, id)
	if err != nil {
		c.log.Debug("closest peers lookup failed", "shard", id.Short(), "err", err)
	}
	seen := make(map[dsn.PeerID]bool, len(closest))
	out := make([]dsn.PeerID, 0, len(closest))
	self := c.t.Self()
	add := func(ps []dsn.PeerID) {
		for _, p := range ps {
			if !seen[p] && p != self {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	add(closest)
	add(market.Rank(id.Multihash(), c.t.Peers()))
	return out
}

// routeTimeout bounds one DHT lookup. A lookup that runs into dead peers
// gives what it found by then; the transport's own peers fill in.
const routeTimeout = 5 * time.Second

// peerAddrs is implemented by transports that know the IP addresses they
// reach peers at (the libp2p host does).
type peerAddrs interface {
	PeerIPs(p dsn.PeerID) []netip.Addr
}

// subnets returns the networks p is reached on, or nil when the transport
// cannot tell.
func (c *Client) subnets(p dsn.PeerID) []string {
	pa, ok := c.t.(peerAddrs)
	if !ok {
		return nil
	}
	var out []string
	for _, ip := range pa.PeerIPs(p) {
		if n := market.Subnet(ip); !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// maxProviderLookup bounds how many announced holders of one shard a
// retrieval asks, beyond the manifest's hint.
const maxProviderLookup = 8

// providersOf returns announced holders of id other than those in skip.
func (c *Client) providersOf(ctx context.Context, id dsn.ShardID, skip dsn.PeerID) []dsn.PeerID {
	ctx, cancel := context.WithTimeout(ctx, routeTimeout)
	defer cancel()
	ps, err := c.router.FindProviders(ctx, id, maxProviderLookup)
	if err != nil {
		c.log.Debug("provider lookup failed", "shard", id.Short(), "err", err)
	}
	out := ps[:0:0]
	for _, p := range ps {
		if p != skip && p != c.t.Self() {
			out = append(out, p)
		}
	}
	return out
}

// ProvidingStore wraps a shard store so that every shard it takes in is
// announced through r, letting clients find holders that the manifest does
// not name (after repair, or when the named one is gone). Announcing runs
// after the acknowledgement, on a bounded number of goroutines, so the DHT
// never delays a store; an announcement that cannot be queued is dropped
// and left to the periodic re-announcement of the daemon (AnnounceWait),
// which waits for room instead and goes after fresh shards.
func ProvidingStore(store dsn.ShardStore, r dsn.Router, log *slog.Logger) *Announcer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	a := &Announcer{ShardStore: store, r: r, log: log, fresh: make(chan dsn.ShardID, announceQueue),
		again: make(chan dsn.ShardID), ctx: ctx, stop: stop}
	for range announceWorkers {
		a.wg.Go(a.work)
	}
	return a
}

const (
	announceQueue   = 1024
	announceWorkers = 4
	announceTimeout = time.Minute
)

// Announcer is the store ProvidingStore returns.
type Announcer struct {
	dsn.ShardStore
	r   dsn.Router
	log *slog.Logger
	// fresh holds the shards just taken in; again takes re-announcements
	// one at a time, from callers that wait, and only when no fresh
	// shard is waiting, so that a pass over every shard held (which can
	// take hours on a large provider) never holds up a new shard's.
	fresh chan dsn.ShardID
	again chan dsn.ShardID
	// ctx ends when the Announcer is closed, cutting short announcements
	// in flight.
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// ReceiveShard stores the shard and queues its announcement.
func (a *Announcer) ReceiveShard(ctx context.Context, id dsn.ShardID, size int64, r io.Reader) error {
	if err := a.ShardStore.ReceiveShard(ctx, id, size, r); err != nil {
		return err
	}
	a.Announce(id)
	return nil
}

// Announce queues id for announcement without waiting; it is dropped
// when the queue is full.
func (a *Announcer) Announce(id dsn.ShardID) {
	select {
	case a.fresh <- id:
	case <-a.ctx.Done():
	default:
		a.log.Debug("announce queue full; shard left to the next re-announcement", "shard", id.Short())
	}
}

// AnnounceWait hands id to an announcing goroutine, waiting until one is
// free of fresh shards, until ctx ends or until the Announcer is closed.
func (a *Announcer) AnnounceWait(ctx context.Context, id dsn.ShardID) error {
	select {
	case a.again <- id:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-a.ctx.Done():
		return net.ErrClosed
	}
}

func (a *Announcer) work() {
	for {
		var id dsn.ShardID
		select {
		case id = <-a.fresh:
		default:
			select {
			case id = <-a.fresh:
			case id = <-a.again:
			case <-a.ctx.Done():
				return
			}
		}
		ctx, cancel := context.WithTimeout(a.ctx, announceTimeout)
		if err := a.r.Provide(ctx, id); err != nil {
			a.log.Debug("announce failed", "shard", id.Short(), "err", err)
		}
		cancel()
		if a.ctx.Err() != nil {
			return
		}
	}
}

// Close stops announcing and closes the store.
func (a *Announcer) Close() error {
	a.stop()
	a.wg.Wait()
	return a.ShardStore.Close()
}
