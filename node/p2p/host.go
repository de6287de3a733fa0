package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/routing"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	msmux "github.com/multiformats/go-multistream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsn-project/dsn"
)

// DHTProtocolPrefix keeps dsn's DHT apart from the public IPFS one: its
// protocol is "/dsn/kad/1.0.0", which IPFS peers neither speak nor accept.
const DHTProtocolPrefix = "/dsn"

// mdnsServiceName is what dsn nodes announce and look for on the LAN.
const mdnsServiceName = "_dsn-discovery._udp"

// DefaultListenAddrs are used when Config.ListenAddrs is empty: TCP and
// QUIC on every IPv4 interface, on ports the system picks.
var DefaultListenAddrs = []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"}

// openTimeout bounds NewStream (dial plus protocol agreement) when the
// caller's context has no deadline.
const openTimeout = 15 * time.Second

// Config configures a Host. The zero value is a DHT client listening on
// DefaultListenAddrs with default Limits and no bootstrap peers.
type Config struct {
	// ListenAddrs are multiaddrs to listen on (default DefaultListenAddrs).
	ListenAddrs []string
	// Bootstrap lists peers to join the network through, as full
	// multiaddrs ending in /p2p/<peer id>. They also serve as static relay
	// candidates for a node that finds itself behind a NAT.
	Bootstrap []string
	// PeersFile is where SavePeers keeps good peers for the next start
	// ("": not kept).
	PeersFile string
	// MDNS turns on discovery of dsn peers on the local network.
	MDNS bool
	// Server runs the DHT in server mode: the node answers DHT queries and
	// keeps provider records. Providers run as servers. Other nodes run in
	// auto mode and become servers once AutoNAT finds them reachable.
	Server bool
	// NATPortMap asks the router for a port mapping (UPnP, NAT-PMP). Off by
	// default: tests and testnets have no router to ask.
	NATPortMap bool
	// Limits bounds connections, streams and memory; see Limits.
	Limits Limits
	// Metrics, if set, receives libp2p's Prometheus metrics; nil turns them
	// off (several hosts in one process would collide on the default
	// registry).
	Metrics prometheus.Registerer
	// Logger receives the host's own events (default: slog.Default()).
	Logger *slog.Logger
}

var (
	// ErrNoPeers is returned by the routing methods when the DHT routing
	// table is empty: the node has not joined a network yet.
	ErrNoPeers = errors.New("no peers in the DHT routing table")
	// ErrNoBootstrapPeers is returned by Bootstrap when there is nobody to
	// connect to: no persisted peers and an empty bootstrap list (the first
	// node of a network).
	ErrNoBootstrapPeers = errors.New("no bootstrap peers configured and none persisted")
	// ErrBootstrapFailed is returned by Bootstrap when none of the
	// persisted and configured peers could be reached.
	ErrBootstrapFailed = errors.New("could not reach any bootstrap peer")
	// ErrBadAddr is returned for an address that does not parse or lacks a
	// part it needs (a bootstrap address without /p2p/<id>).
	ErrBadAddr = errors.New("malformed peer address")
)

// maxStreamWindow is the largest yamux receive window a stream grows to.
// A stream opens with yamux's 256 KiB and grows as its reader keeps up,
// each growth reserved with the resource manager. A larger opening window
// saved a few round trips per shard on a long link, but yamux reserves
// only 256 KiB for it: a peer writing into streams whose handlers do not
// read (one blocked writing a proof, say) could make a node buffer 4 MiB
// per stream that the resource manager never saw. On loopback the two
// move shards equally fast (BenchmarkStream).
const maxStreamWindow = 16 << 20

// muxer is libp2p's yamux with windows up to maxStreamWindow.
func muxer() *yamux.Transport {
	cfg := *yamux.DefaultTransport
	cfg.MaxStreamWindowSize = max(cfg.MaxStreamWindowSize, maxStreamWindow)
	return &cfg
}

// Host is a libp2p host with a Kademlia DHT. It implements dsn.Transport
// and dsn.Router. Its methods are safe for concurrent use.
type Host struct {
	h         host.Host
	dht       *dht.IpfsDHT
	log       *slog.Logger
	bootstrap []peer.AddrInfo
	peersFile string
	mdns      io.Closer

	gossip    gossip
	saveMu    sync.Mutex // serialises SavePeers
	closeOnce sync.Once
	closeErr  error
}

var (
	_ dsn.Transport = (*Host)(nil)
	_ dsn.Router    = (*Host)(nil)
)

// New starts a host with identity key, listening on cfg.ListenAddrs. It
// does not connect to anyone: call Bootstrap for that.
func New(ctx context.Context, key crypto.PrivKey, cfg Config) (*Host, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	if key == nil {
		return nil, errors.New("start libp2p host: nil identity key")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	limits, err := cfg.Limits.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	boot, err := parseBootstrap(cfg.Bootstrap, self)
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	listen := cfg.ListenAddrs
	if len(listen) == 0 {
		listen = DefaultListenAddrs
	}
	for _, s := range listen {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return nil, fmt.Errorf("start libp2p host: listen address %q: %w: %v", s, ErrBadAddr, err)
		}
	}

	mgr, err := rcmgr.NewResourceManager(limits.limiter())
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: resource manager: %w", err)
	}
	cm, err := connmgr.NewConnManager(limits.Conns/2, limits.Conns*3/4, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: connection manager: %w", err)
	}

	hs := &Host{log: log, bootstrap: boot, peersFile: cfg.PeersFile}
	mode := dht.ModeAuto
	if cfg.Server {
		mode = dht.ModeServer
	}
	acceptAll := func(any, peer.ID) bool { return true }
	dhtOpts := []dht.Option{
		dht.ProtocolPrefix(DHTProtocolPrefix),
		dht.Mode(mode),
		// No IPFS bootstrap peers: the DHT refills an empty routing table
		// from our own persisted and configured peers.
		dht.BootstrapPeersFunc(hs.bootstrapCandidates),
		// The only values dsn keeps in the DHT are signed manifest
		// version records (records.go).
		dht.Validator(recordValidator()),
		// A single DHT for every address class. go-libp2p-kad-dht's "dual"
		// setup would split it into a WAN DHT whose filters drop peers
		// that have only private or loopback addresses, and a LAN one; a
		// testnet on 127.0.0.1 has nothing but loopback addresses, and a
		// private network of machines nothing but private ones. These
		// filters (and no AddressFilter) accept them all.
		dht.RoutingTableFilter(acceptAll),
		dht.QueryFilter(func(any, peer.AddrInfo) bool { return true }),
	}

	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		// TCP is secured with TLS 1.3 when both ends offer it, else Noise;
		// QUIC brings its own TLS 1.3. TLS first: its AES-GCM runs on the
		// CPU's AES instructions, Noise's ChaCha20-Poly1305 does not, and
		// every shard byte crosses it twice (docs/benchmarks.md).
		libp2p.Security(libp2ptls.ID, newTLS),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, muxer()),
		libp2p.ResourceManager(mgr),
		libp2p.ConnectionManager(cm),
		libp2p.UserAgent("dsn"),
		// Identify runs on every connection (it is part of the basic host).
		// AutoNAT v2 tells the node, per address, whether others can dial
		// it; v1 still runs, as the DHT's auto mode listens to it.
		libp2p.EnableAutoNATv2(),
		// Behind a NAT: reachable through a relay (circuit v2 client), then
		// upgraded to a direct connection by hole punching (DCUtR).
		libp2p.EnableRelay(),
		libp2p.EnableHolePunching(),
		libp2p.Routing(func(h host.Host) (routing.PeerRouting, error) {
			d, err := dht.New(h, dhtOpts...)
			hs.dht = d
			return d, err
		}),
	}
	if cfg.Server {
		// Servers help others learn their reachability and, once they are
		// known to be publicly reachable, relay for peers behind NATs.
		opts = append(opts, libp2p.EnableNATService(), libp2p.EnableRelayService())
	}
	if len(boot) > 0 {
		opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(boot))
	}
	if cfg.NATPortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	if cfg.Metrics != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Metrics))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		_ = mgr.Close()
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	hs.h = h
	if cfg.MDNS {
		svc := mdns.NewMdnsService(h, mdnsServiceName, mdnsNotifee{hs})
		if err := svc.Start(); err != nil {
			_ = hs.Close()
			return nil, fmt.Errorf("start libp2p host: mdns: %w", err)
		}
		hs.mdns = svc
	}
	log.Info("libp2p host started", "peer", h.ID().String(), "addrs", hs.Addrs(), "dht_server", cfg.Server)
	return hs, nil
}

// parseBootstrap parses full multiaddrs into peer infos, merging addresses
// of the same peer and dropping self (a shared list may name us).
func parseBootstrap(addrs []string, self peer.ID) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	idx := map[peer.ID]int{}
	for _, s := range addrs {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return nil, fmt.Errorf("bootstrap address %q: %w: %v (want /ip4/.../tcp/PORT/p2p/PEERID)", s, ErrBadAddr, err)
		}
		if ai.ID == self {
			continue
		}
		if i, ok := idx[ai.ID]; ok {
			out[i].Addrs = append(out[i].Addrs, ai.Addrs...)
			continue
		}
		idx[ai.ID] = len(out)
		out = append(out, *ai)
	}
	return out, nil
}

type mdnsNotifee struct{ h *Host }

func (n mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == n.h.h.ID() {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.h.h.Connect(ctx, ai); err != nil {
			n.h.log.Debug("mdns peer not reachable", "peer", ai.ID.String(), "err", err)
		}
	}()
}

// Self is this host's peer ID.
func (h *Host) Self() dsn.PeerID { return dsn.PeerID(h.h.ID()) }

// Peers lists the peers this host is connected to.
func (h *Host) Peers() []dsn.PeerID {
	ps := h.h.Network().Peers()
	out := make([]dsn.PeerID, len(ps))
	for i, p := range ps {
		out[i] = dsn.PeerID(p)
	}
	return out
}

// Addrs returns the host's addresses as full multiaddrs ending in
// /p2p/<peer id>, ready for another node's bootstrap list.
func (h *Host) Addrs() []string {
	suffix := "/p2p/" + h.h.ID().String()
	as := h.h.Addrs()
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String() + suffix
	}
	return out
}

// Connect connects to the peer at addr, a full multiaddr with /p2p/<id>.
func (h *Host) Connect(ctx context.Context, addr string) error {
	ai, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return fmt.Errorf("connect %q: %w: %v", addr, ErrBadAddr, err)
	}
	if err := h.dial(ctx, *ai); err != nil {
		return fmt.Errorf("connect %s: %w: %w", addr, dsn.ErrUnreachable, err)
	}
	return nil
}

// NewStream opens a stream to p speaking proto. It returns only once p has
// agreed to proto, so that a peer without the protocol fails here with
// dsn.ErrProtocolNotSupported rather than on the first read. (libp2p's own
// NewStream skips that round trip when identify says the peer supports the
// protocol; a peer that dropped the protocol since then would fail later,
// on a read.) Failures to reach p wrap dsn.ErrUnreachable; a cancelled or
// expired ctx gives ctx's error.
func (h *Host) NewStream(ctx context.Context, p dsn.PeerID, proto string) (dsn.Stream, error) {
	pid := peer.ID(p)
	fail := func(kind, err error) (dsn.Stream, error) {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("open %s stream to %s: %w (%v)", proto, PeerIDString(p), cerr, err)
		}
		if kind == nil {
			return nil, fmt.Errorf("open %s stream to %s: %w", proto, PeerIDString(p), err)
		}
		return nil, fmt.Errorf("open %s stream to %s: %w: %w", proto, PeerIDString(p), kind, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(nil, err)
	}
	if pid == h.h.ID() {
		return fail(dsn.ErrUnreachable, errors.New("stream to self"))
	}
	if _, err := peer.IDFromBytes([]byte(p)); err != nil {
		return fail(dsn.ErrUnreachable, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, openTimeout)
		defer cancel()
	}
	if err := h.h.Connect(ctx, peer.AddrInfo{ID: pid}); err != nil {
		return fail(dsn.ErrUnreachable, err)
	}
	s, err := h.openDirect(ctx, pid)
	if err != nil {
		return fail(dsn.ErrUnreachable, err)
	}
	pr := protocol.ID(proto)
	// Enter the protocol's resource scope before any byte moves.
	if err := s.SetProtocol(pr); err != nil {
		_ = s.Reset()
		return fail(nil, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- msmux.SelectProtoOrFail(pr, s) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		_ = s.Reset()
		<-errc
		err = ctx.Err()
	}
	if err != nil {
		_ = s.Reset()
		if errors.Is(err, msmux.ErrNotSupported[protocol.ID]{}) {
			return fail(dsn.ErrProtocolNotSupported, err)
		}
		return fail(dsn.ErrUnreachable, err)
	}
	_ = h.h.Peerstore().AddProtocols(pid, pr)
	return newStream(s), nil
}

// holePunchWait is how long openDirect waits for hole punching to turn a
// relayed connection into a direct one before it dials through the relay
// again. A successful punch takes a few round trips.
const holePunchWait = 5 * time.Second

// openDirect opens a raw stream to p, already connected, on a direct
// connection. Streams never run over relayed connections alone: a circuit
// v2 relay limits each relayed connection to a little data (128 KiB by
// default) and time, far below one shard. When the only connection to p is
// relayed, libp2p's NewStream waits for hole punching (DCUtR) to add a
// direct one. That punch is tried once per relayed connection, started by
// the peer that accepted it, and fails for good if this host's DCUtR
// handler is not up yet, which it is only once identify has told this
// host its public address: a node that dials a NATed peer in its first
// moments (its first DHT lookup) would wait in vain. So if no direct
// connection comes within holePunchWait, the relayed connections are
// closed and p is dialed again through its relay, which starts a new punch.
func (h *Host) openDirect(ctx context.Context, p peer.ID) (network.Stream, error) {
	ctx = network.WithNoDial(ctx, "connected just before")
	if !h.onlyRelayed(p) {
		return h.h.Network().NewStream(ctx, p)
	}
	wctx, cancel := context.WithTimeout(ctx, holePunchWait)
	s, err := h.h.Network().NewStream(wctx, p)
	cancel()
	if err == nil || ctx.Err() != nil || !h.onlyRelayed(p) {
		return s, err
	}
	h.log.Debug("no direct connection after a relayed one; dialing through the relay again", "peer", p.String())
	for _, c := range h.h.Network().ConnsToPeer(p) {
		_ = c.Close()
	}
	if err := h.h.Connect(network.WithAllowLimitedConn(ctx, "redial for hole punching"), peer.AddrInfo{ID: p}); err != nil {
		return nil, err
	}
	return h.h.Network().NewStream(ctx, p)
}

// onlyRelayed reports whether every connection to p is a limited (relayed)
// one, and there is at least one.
func (h *Host) onlyRelayed(p peer.ID) bool {
	cs := h.h.Network().ConnsToPeer(p)
	for _, c := range cs {
		if !c.Stat().Limited {
			return false
		}
	}
	return len(cs) > 0
}

// SetStreamHandler serves proto with handler, replacing any earlier one.
// Each inbound stream runs handler on its own goroutine.
func (h *Host) SetStreamHandler(proto string, handler dsn.StreamHandler) {
	h.h.SetStreamHandler(protocol.ID(proto), func(s network.Stream) {
		handler(newStream(s))
	})
}

// RemoveStreamHandler stops serving proto.
func (h *Host) RemoveStreamHandler(proto string) {
	h.h.RemoveStreamHandler(protocol.ID(proto))
}

// Close saves the connected peers (if a PeersFile is set and there are
// any), then stops the DHT and the host. It is safe to call more than once.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		var errs []error
		if h.peersFile != "" {
			if err := h.SavePeers(); err != nil {
				errs = append(errs, err)
			}
		}
		if h.mdns != nil {
			errs = append(errs, h.mdns.Close())
		}
		h.closeGossip()
		if h.dht != nil {
			errs = append(errs, h.dht.Close())
		}
		errs = append(errs, h.h.Close())
		if err := errors.Join(errs...); err != nil {
			h.closeErr = fmt.Errorf("close libp2p host: %w", err)
		}
	})
	return h.closeErr
}

// PeerIPs returns the IP addresses this host reaches p at: the remote ends
// of its open connections to p, which, unlike the addresses p announces,
// cannot be chosen by p. Placement uses them to keep the shards of one
// segment on different networks.
func (h *Host) PeerIPs(p dsn.PeerID) []netip.Addr {
	var out []netip.Addr
	for _, c := range h.h.Network().ConnsToPeer(peer.ID(p)) {
		ip, err := manet.ToIP(c.RemoteMultiaddr())
		if err != nil {
			continue
		}
		if a, ok := netip.AddrFromSlice(ip); ok && !slices.Contains(out, a.Unmap()) {
			out = append(out, a.Unmap())
		}
	}
	return out
}
