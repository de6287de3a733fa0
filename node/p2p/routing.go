package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"github.com/dsn-project/dsn"
)

// MaxFindProviders bounds the limit FindProviders accepts.
const MaxFindProviders = 100

// dialTimeout bounds one bootstrap connection attempt.
const dialTimeout = 10 * time.Second

// bootstrapParallel bounds concurrent bootstrap dials.
const bootstrapParallel = 16

// rtWaitPoll is how often WaitForPeers looks at the routing table. kad-dht
// offers no notification for routing table changes to its users (it keeps
// the table's callbacks for itself), so the wait polls.
const rtWaitPoll = 20 * time.Millisecond

// shardCID is the CID under which shard id is announced: CIDv1, raw codec,
// with id's multihash. The DHT keys provider records by the multihash only.
func shardCID(id dsn.ShardID) cid.Cid {
	return cid.NewCidV1(cid.Raw, id.Multihash())
}

// ClosestPeers asks the DHT for the peers closest to id's routing key (its
// multihash), closest first by the XOR distance between SHA-256 images
// used by Kademlia. It returns up to the DHT's bucket size (20) peers and
// never this host itself.
func (h *Host) ClosestPeers(ctx context.Context, id dsn.ShardID) ([]dsn.PeerID, error) {
	if h.RoutingTableSize() == 0 {
		return nil, fmt.Errorf("closest peers to %s: %w", id.Short(), ErrNoPeers)
	}
	key := string(id.Multihash())
	ps, err := h.dht.GetClosestPeers(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("closest peers to %s: %w", id.Short(), err)
	}
	sortByDistance(ps, key)
	out := make([]dsn.PeerID, 0, len(ps))
	for _, p := range ps {
		if p != h.h.ID() {
			out = append(out, dsn.PeerID(p))
		}
	}
	return out, nil
}

// sortByDistance orders ps by XOR distance from SHA-256(key), comparing
// SHA-256 of each peer ID's bytes, as Kademlia in go-libp2p-kad-dht does.
// The DHT already returns its answer in this order; sorting again makes the
// documented order independent of its internals.
func sortByDistance(ps []peer.ID, key string) {
	target := sha256.Sum256([]byte(key))
	dist := make(map[peer.ID][sha256.Size]byte, len(ps))
	for _, p := range ps {
		d := sha256.Sum256([]byte(p))
		for i := range d {
			d[i] ^= target[i]
		}
		dist[p] = d
	}
	slices.SortStableFunc(ps, func(a, b peer.ID) int {
		da, db := dist[a], dist[b]
		return bytes.Compare(da[:], db[:])
	})
}

// Provide announces that this host holds id: a provider record for the
// CIDv1 raw with id's multihash, stored on the closest DHT servers.
func (h *Host) Provide(ctx context.Context, id dsn.ShardID) error {
	if h.RoutingTableSize() == 0 {
		return fmt.Errorf("provide %s: %w", id.Short(), ErrNoPeers)
	}
	if err := h.dht.Provide(ctx, shardCID(id), true); err != nil {
		return fmt.Errorf("provide %s: %w", id.Short(), err)
	}
	return nil
}

// FindProviders returns up to limit peers that announced id (limit <= 0
// or above MaxFindProviders: MaxFindProviders), including this host if it
// did. The lookup ends when limit providers are found, the DHT has asked
// every close peer, or ctx ends; providers found before ctx ended are
// returned with ctx's error.
func (h *Host) FindProviders(ctx context.Context, id dsn.ShardID, limit int) ([]dsn.PeerID, error) {
	if limit <= 0 || limit > MaxFindProviders {
		limit = MaxFindProviders
	}
	var out []dsn.PeerID
	for ai := range h.dht.FindProvidersAsync(ctx, shardCID(id), limit) {
		out = append(out, dsn.PeerID(ai.ID))
	}
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("find providers of %s: %w", id.Short(), err)
	}
	return out, nil
}

// RoutingTableSize is the number of peers in the DHT routing table.
func (h *Host) RoutingTableSize() int { return h.dht.RoutingTable().Size() }

// waitRefreshEvery is how often WaitForPeers refreshes a routing table
// that is still short of what it waits for.
const waitRefreshEvery = 2 * time.Second

// WaitForPeers waits until the DHT routing table holds at least n peers,
// or ctx ends. A connected DHT server enters the table only once it has
// answered a query, and a host that connected to peers after its last
// lookup would wait for the periodic refresh (minutes away): while the
// table is short, WaitForPeers refreshes it every waitRefreshEvery.
func (h *Host) WaitForPeers(ctx context.Context, n int) error {
	t := time.NewTicker(rtWaitPoll)
	defer t.Stop()
	last := time.Now()
	for {
		if h.RoutingTableSize() >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d DHT peers (have %d): %w", n, h.RoutingTableSize(), ctx.Err())
		case now := <-t.C:
			if now.Sub(last) >= waitRefreshEvery {
				last = now
				h.dht.ForceRefresh() // its result channel is buffered: safe to drop
			}
		}
	}
}

// Bootstrap joins the network: it connects to the persisted peers first,
// then to the configured bootstrap peers, and succeeds if any of them
// answers. It then refreshes the DHT routing table through them. It
// returns ErrNoBootstrapPeers if there is nobody to try, and
// ErrBootstrapFailed, listing every address tried and why it failed, if
// nobody answered. A damaged peers file is logged and skipped.
func (h *Host) Bootstrap(ctx context.Context) error {
	var saved []peer.AddrInfo
	if h.peersFile != "" {
		ps, err := readPeersFile(h.peersFile)
		if err != nil {
			h.log.Warn("ignoring persisted peers", "err", err)
		}
		saved = ps
	}
	if len(saved)+len(h.bootstrap) == 0 {
		return fmt.Errorf("bootstrap: %w", ErrNoBootstrapPeers)
	}
	ok1, errs1 := h.connectAll(ctx, "persisted", saved)
	ok2, errs2 := h.connectAll(ctx, "bootstrap", h.bootstrap)
	if ok1+ok2 == 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		return fmt.Errorf("bootstrap: %w: %w", ErrBootstrapFailed, errors.Join(append(errs1, errs2...)...))
	}
	h.log.Info("connected to peers", "persisted", ok1, "bootstrap", ok2, "failed", len(errs1)+len(errs2))
	// Connected peers enter the routing table once identify has shown they
	// speak the DHT protocol and they have answered a query. Wait briefly
	// for that, then fill the table with a refresh lookup through them.
	wctx, cancel := context.WithTimeout(ctx, dialTimeout)
	werr := h.WaitForPeers(wctx, 1)
	cancel()
	if werr != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		h.log.Warn("connected, but no DHT server among the peers yet", "err", werr)
		return nil
	}
	select {
	case err := <-h.dht.ForceRefresh():
		if err != nil {
			h.log.Warn("DHT refresh failed", "err", err)
		}
	case <-ctx.Done():
		return fmt.Errorf("bootstrap: DHT refresh: %w", ctx.Err())
	}
	return nil
}

// connectAll dials ps concurrently and returns how many are connected and
// why the others failed.
func (h *Host) connectAll(ctx context.Context, kind string, ps []peer.AddrInfo) (int, []error) {
	var (
		mu   sync.Mutex
		ok   int
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, bootstrapParallel)
	)
	for _, ai := range ps {
		if ai.ID == h.h.ID() {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			err := h.dial(dctx, ai)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s peer %s %v: %w", kind, ai.ID, ai.Addrs, err))
				return
			}
			ok++
		})
	}
	wg.Wait()
	return ok, errs
}

// bootstrapCandidates is what the DHT dials when its routing table runs
// empty: the persisted peers, then the configured ones.
func (h *Host) bootstrapCandidates() []peer.AddrInfo {
	var out []peer.AddrInfo
	if h.peersFile != "" {
		ps, err := readPeersFile(h.peersFile)
		if err != nil {
			h.log.Warn("ignoring persisted peers", "err", err)
		}
		out = append(out, ps...)
	}
	return append(out, h.bootstrap...)
}

// SavePeers writes up to MaxSavedPeers connected peers, with their known
// addresses, to the PeersFile, for Bootstrap to try on the next start.
// DHT servers in the routing table come first, then other connected
// peers. With no peers to save the file is left as it is, so a node that
// lost its connections still knows whom to try. It does nothing if no
// PeersFile is configured.
func (h *Host) SavePeers() error {
	if h.peersFile == "" {
		return nil
	}
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	var ps []peer.AddrInfo
	seen := map[peer.ID]bool{h.h.ID(): true}
	add := func(p peer.ID) {
		if seen[p] || len(ps) == MaxSavedPeers {
			return
		}
		seen[p] = true
		if h.h.Network().Connectedness(p) != network.Connected {
			return
		}
		if as := h.h.Peerstore().Addrs(p); len(as) > 0 {
			ps = append(ps, peer.AddrInfo{ID: p, Addrs: as})
		}
	}
	for _, p := range h.dht.RoutingTable().ListPeers() {
		add(p)
	}
	for _, p := range h.h.Network().Peers() {
		add(p)
	}
	if len(ps) == 0 {
		return nil
	}
	if err := writePeersFile(h.peersFile, ps); err != nil {
		return fmt.Errorf("save peers: %w", err)
	}
	return nil
}

// dial connects to ai, dialling it even if a recent dial failed. A peer
// asked for by name (a bootstrap peer, an address given to Connect) that
// refused a moment ago, because it was still starting or a simultaneous
// dial lost, is worth trying now: the swarm's dial backoff, meant for the
// DHT's own dials, would refuse without trying for up to minutes.
func (h *Host) dial(ctx context.Context, ai peer.AddrInfo) error {
	if sw, ok := h.h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(ai.ID)
	}
	return h.h.Connect(ctx, ai)
}
