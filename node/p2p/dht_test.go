package p2p

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dsn-project/dsn"
)

// newNetwork starts n DHT servers on 127.0.0.1, bootstraps hosts 1..n-1
// through host 0 and waits until every routing table holds all the others.
func newNetwork(t *testing.T, n int) []*Host {
	t.Helper()
	hs := make([]*Host, n)
	hs[0] = newHost(t, Config{Server: true, ListenAddrs: []string{tcpLoopback}})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 1; i < n; i++ {
		hs[i] = newHost(t, Config{Server: true, ListenAddrs: []string{tcpLoopback}, Bootstrap: hs[0].Addrs()})
		wg.Go(func() {
			if err := hs[i].Bootstrap(testCtx(t)); err != nil {
				errs <- fmt.Errorf("host %d: Bootstrap = %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Kademlia adds a peer to a routing table when the two interact, and
	// hosts that bootstrapped at the same moment may not have yet: connect
	// every pair, so that every table holds every other server.
	for i, h := range hs {
		for _, o := range hs[i+1:] {
			wg.Go(func() {
				if err := h.Connect(testCtx(t), o.Addrs()[0]); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for i, h := range hs {
		if err := h.WaitForPeers(testCtx(t), n-1); err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
	}
	return hs
}

// xorOrder ranks peers for key the way Kademlia in go-libp2p-kad-dht does,
// computed here from scratch: XOR of SHA-256(peer ID bytes) with
// SHA-256(key), compared as big-endian numbers.
func xorOrder(key []byte, peers []dsn.PeerID) []dsn.PeerID {
	target := sha256.Sum256(key)
	dist := func(p dsn.PeerID) []byte {
		d := sha256.Sum256([]byte(p))
		for i := range d {
			d[i] ^= target[i]
		}
		return d[:]
	}
	out := slices.Clone(peers)
	slices.SortFunc(out, func(a, b dsn.PeerID) int { return bytes.Compare(dist(a), dist(b)) })
	return out
}

func names(ps []dsn.PeerID) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = PeerIDString(p)[:16]
	}
	return out
}

func TestDHT(t *testing.T) {
	hs := newNetwork(t, 6)
	all := make([]dsn.PeerID, len(hs))
	for i, h := range hs {
		all[i] = h.Self()
	}

	t.Run("ClosestPeers", func(t *testing.T) {
		for k := range 4 {
			id := dsn.SumShard([]byte(fmt.Sprintf("shard %d", k)))
			for i, h := range []*Host{hs[1], hs[4]} {
				got, err := h.ClosestPeers(testCtx(t), id)
				if err != nil {
					t.Fatalf("host %d: ClosestPeers(%s) = %v", i, id.Short(), err)
				}
				others := slices.DeleteFunc(slices.Clone(all), func(p dsn.PeerID) bool { return p == h.Self() })
				want := xorOrder(id.Multihash(), others)
				if !slices.Equal(got, want) {
					t.Errorf("ClosestPeers(%s) from %s =\n%v\nwant\n%v", id.Short(), PeerIDString(h.Self())[:16], names(got), names(want))
				}
			}
		}
	})

	t.Run("ProvideFindProviders", func(t *testing.T) {
		id := dsn.SumShard([]byte("provided shard"))
		if err := hs[2].Provide(testCtx(t), id); err != nil {
			t.Fatalf("Provide = %v", err)
		}
		got, err := hs[5].FindProviders(testCtx(t), id, 4)
		if err != nil || !slices.Equal(got, []dsn.PeerID{hs[2].Self()}) {
			t.Errorf("FindProviders(%s) = %v, %v; want [%s]", id.Short(), names(got), err, PeerIDString(hs[2].Self()))
		}
		// The holder can be dialled from the provider record alone.
		if _, err := hs[5].NewStream(testCtx(t), got[0], "/dsn/test/none/1.0.0"); !errors.Is(err, dsn.ErrProtocolNotSupported) {
			t.Errorf("NewStream to the provider = %v, want dsn.ErrProtocolNotSupported (reached, no such protocol)", err)
		}
		other := dsn.SumShard([]byte("nobody has this"))
		if got, err := hs[5].FindProviders(testCtx(t), other, 4); err != nil || len(got) != 0 {
			t.Errorf("FindProviders(unannounced) = %v, %v; want none", names(got), err)
		}
	})
}

func TestRoutingWithoutPeers(t *testing.T) {
	h := newHost(t, Config{Server: true, ListenAddrs: []string{tcpLoopback}})
	id := dsn.SumShard([]byte("x"))
	if _, err := h.ClosestPeers(testCtx(t), id); !errors.Is(err, ErrNoPeers) {
		t.Errorf("ClosestPeers on a lone host = %v, want ErrNoPeers", err)
	}
	if err := h.Provide(testCtx(t), id); !errors.Is(err, ErrNoPeers) {
		t.Errorf("Provide on a lone host = %v, want ErrNoPeers", err)
	}
	if err := h.Bootstrap(testCtx(t)); !errors.Is(err, ErrNoBootstrapPeers) {
		t.Errorf("Bootstrap with no peers = %v, want ErrNoBootstrapPeers", err)
	}
}

func TestBootstrap(t *testing.T) {
	seed := newHost(t, Config{Server: true, ListenAddrs: []string{tcpLoopback}})
	gone := newHost(t, Config{Server: true, ListenAddrs: []string{tcpLoopback}})
	goneAddr := gone.Addrs()[0]
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("Unreachable", func(t *testing.T) {
		h := newHost(t, Config{ListenAddrs: []string{tcpLoopback}, Bootstrap: []string{goneAddr}})
		err := h.Bootstrap(testCtx(t))
		if !errors.Is(err, ErrBootstrapFailed) {
			t.Fatalf("Bootstrap(unreachable) = %v, want ErrBootstrapFailed", err)
		}
		// The error names the peer that failed.
		if id := strings.TrimPrefix(goneAddr[strings.Index(goneAddr, "/p2p/"):], "/p2p/"); !strings.Contains(err.Error(), id) {
			t.Errorf("Bootstrap error %q does not name the unreachable peer %s", err, id)
		}
	})
	t.Run("OneReachable", func(t *testing.T) {
		h := newHost(t, Config{ListenAddrs: []string{tcpLoopback}, Bootstrap: []string{goneAddr, seed.Addrs()[0]}})
		if err := h.Bootstrap(testCtx(t)); err != nil {
			t.Fatalf("Bootstrap(one reachable of two) = %v", err)
		}
		if !slices.Contains(h.Peers(), seed.Self()) {
			t.Errorf("after Bootstrap, Peers() = %v, want the reachable bootstrap peer", names(h.Peers()))
		}
		if err := h.WaitForPeers(testCtx(t), 1); err != nil {
			t.Error(err)
		}
	})
	t.Run("BadAddress", func(t *testing.T) {
		for _, addr := range []string{"/ip4/127.0.0.1/tcp/1", "not an address", "/ip4/127.0.0.1/tcp/1/p2p/notapeer"} {
			_, err := New(testCtx(t), newKey(t), Config{ListenAddrs: []string{tcpLoopback}, Bootstrap: []string{addr}})
			if !errors.Is(err, ErrBadAddr) {
				t.Errorf("New(Bootstrap: %q) = %v, want ErrBadAddr", addr, err)
			}
		}
	})
}

// TestPersistedPeers checks that a node finds the network again from its
// peers file after the bootstrap node is gone.
func TestPersistedPeers(t *testing.T) {
	hs := newNetwork(t, 3)
	peersFile := filepath.Join(t.TempDir(), "peers.json")
	d := newHost(t, Config{Server: true, ListenAddrs: []string{tcpLoopback}, Bootstrap: hs[0].Addrs(), PeersFile: peersFile})
	if err := d.Bootstrap(testCtx(t)); err != nil {
		t.Fatalf("Bootstrap = %v", err)
	}
	if err := d.WaitForPeers(testCtx(t), 3); err != nil {
		t.Fatal(err)
	}
	if err := d.SavePeers(); err != nil {
		t.Fatalf("SavePeers = %v", err)
	}
	saved, err := readPeersFile(peersFile)
	if err != nil || len(saved) != 3 {
		t.Fatalf("peers file after SavePeers: %d peers, %v; want 3", len(saved), err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	// The bootstrap node goes away; the others stay.
	if err := hs[0].Close(); err != nil {
		t.Fatal(err)
	}

	d2 := newHost(t, Config{Server: true, ListenAddrs: []string{tcpLoopback}, PeersFile: peersFile})
	if err := d2.Bootstrap(testCtx(t)); err != nil {
		t.Fatalf("Bootstrap from the peers file alone = %v", err)
	}
	if err := d2.WaitForPeers(testCtx(t), 2); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs[1:] {
		if !slices.Contains(d2.Peers(), h.Self()) {
			t.Errorf("restarted node is not connected to persisted peer %s", PeerIDString(h.Self()))
		}
	}
	// It can use the network: the survivors answer routing queries.
	if _, err := d2.ClosestPeers(testCtx(t), dsn.SumShard([]byte("after restart"))); err != nil {
		t.Errorf("ClosestPeers after restart = %v", err)
	}
}

func TestSavePeersKeepsFileWithoutPeers(t *testing.T) {
	peersFile := filepath.Join(t.TempDir(), "peers.json")
	hs := newNetwork(t, 2)
	a := newHost(t, Config{ListenAddrs: []string{tcpLoopback}, PeersFile: peersFile, Bootstrap: hs[0].Addrs()})
	if err := a.Bootstrap(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := a.SavePeers(); err != nil {
		t.Fatal(err)
	}
	before, err := readPeersFile(peersFile)
	if err != nil || len(before) == 0 {
		t.Fatalf("peers file = %d peers, %v; want some", len(before), err)
	}
	// A node with no connections must not wipe the list it will need.
	lone := newHost(t, Config{ListenAddrs: []string{tcpLoopback}, PeersFile: peersFile})
	if err := lone.SavePeers(); err != nil {
		t.Fatal(err)
	}
	// The DHT of the new node may already have dialled a peer it read
	// from the file (it tops up a thin routing table from the
	// peerstore); then that peer is what it saves. Either way the list
	// must not be wiped.
	after, err := readPeersFile(peersFile)
	connected := len(lone.h.Network().Peers())
	switch {
	case err != nil || len(after) == 0:
		t.Errorf("peers file after SavePeers by a node with %d peers: %d peers, %v; want it kept", connected, len(after), err)
	case connected == 0 && len(after) != len(before):
		t.Errorf("peers file after SavePeers with no peers: %d peers; want the %d saved before", len(after), len(before))
	}
}
