package p2p

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsn-project/dsn/node/p2p/netnstest"
)

// The NAT tests run nodes in network namespaces joined like a small piece
// of the internet:
//
//	public segment 11.77.0.0/24 (a bridge in its own namespace):
//	    relay  11.77.0.10  relay, bootstrap, DHT server
//	    pub    11.77.0.11  a second public DHT server
//	    nat1   11.77.0.101 -- home router -- LAN 10.77.1.0/24: a 10.77.1.2
//	    nat2   11.77.0.102 -- home router -- LAN 10.77.2.0/24: b 10.77.2.2
//
// The public segment must use addresses libp2p counts as public
// (manet.IsPublicAddr): AutoNAT (v1 and v2) dials back only public
// addresses, identify tells public peers only public addresses, a relay
// grants reservations only with public ones and hole punching exchanges
// only public ones. Every private, shared (100.64/10) and documentation
// range is excluded, so the segment uses 11.77.0.0/24. No namespace here
// has a link to any real interface, and none has a route beyond its own
// segments, so nothing sent to these addresses can leave the test's
// network.
//
// The routers are port-restricted cone NATs (see netnstest.Namespace.NAT):
// Linux masquerade keeps source ports, and unsolicited inbound packets are
// dropped. Behind a NAT that picks a new port per destination (masquerade
// with "random"/"fully-random", a symmetric NAT) hole punching cannot
// work; nodes there stay reachable through the relay only.

// natNet is the namespaces of the NAT tests.
type natNet struct {
	relay, pub, a, b *netnstest.Namespace
}

const (
	relayIP = "11.77.0.10"
	pubIP   = "11.77.0.11"
	nat1WAN = "11.77.0.101"
	nat2WAN = "11.77.0.102"
)

func newNATNet(t *testing.T) *natNet {
	t.Helper()
	n := netnstest.New(t)
	sw := n.Switch("sw")
	nn := &natNet{relay: n.Namespace("relay"), pub: n.Namespace("pub"), a: n.Namespace("a"), b: n.Namespace("b")}
	sw.Plug(nn.relay, "eth0", relayIP+"/24")
	sw.Plug(nn.pub, "eth0", pubIP+"/24")
	for i, h := range []struct {
		host     *netnstest.Namespace
		wan, lan string
	}{{nn.a, nat1WAN, "10.77.1"}, {nn.b, nat2WAN, "10.77.2"}} {
		r := n.Namespace("nat" + string(rune('1'+i)))
		sw.Plug(r, "wan", h.wan+"/24")
		n.Link(r, "lan", h.lan+".1/24", h.host, "eth0", h.lan+".2/24")
		r.NAT("lan", "wan")
		h.host.DefaultRoute(h.lan + ".1")
	}
	return nn
}

func hasPrefix(ss []string, prefix string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestNATTraversal(t *testing.T) {
	nn := newNATNet(t)
	// cmd/dsn builds while the agents find their way; its daemons start
	// as soon as it is built.
	type built struct {
		bin string
		err error
	}
	binc := make(chan built, 1)
	binDir := t.TempDir()
	go func() {
		bin, err := buildDSN(binDir)
		binc <- built{bin, err}
	}()
	listen := []string{"/ip4/0.0.0.0/tcp/4101", "/ip4/0.0.0.0/udp/4101/quic-v1"}
	relay := startAgent(t, nn.relay, "relay", agentConfig{Listen: listen, Server: true})
	relayAddr := "/ip4/" + relayIP + "/tcp/4101/p2p/" + relay.ID
	pub := startAgent(t, nn.pub, "pub", agentConfig{Listen: listen, Server: true, Bootstrap: []string{relayAddr}})
	pubAddr := "/ip4/" + pubIP + "/tcp/4101/p2p/" + pub.ID
	boot := []string{relayAddr, pubAddr}
	a := startAgent(t, nn.a, "a", agentConfig{Listen: listen, Bootstrap: boot})
	b := startAgent(t, nn.b, "b", agentConfig{Listen: listen, Bootstrap: boot})
	start := time.Now()

	bb := <-binc
	if bb.err != nil {
		t.Fatal(bb.err)
	}
	t.Logf("cmd/dsn built after %v", time.Since(start))
	dlisten := []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}
	drelay := newDSNNode(t, bb.bin, nn.relay, "relay", dlisten, nil, "64MiB")
	dboot := []string{"/ip4/" + relayIP + "/tcp/4001/p2p/" + drelay.ID}
	dpub := newDSNNode(t, bb.bin, nn.pub, "pub", dlisten, dboot, "64MiB")
	da := newDSNNode(t, bb.bin, nn.a, "a", dlisten, dboot, "64MiB")
	db := newDSNNode(t, bb.bin, nn.b, "b", dlisten, dboot, "0")
	for _, d := range []*dsnNode{drelay, dpub, da} {
		d.run()
	}

	t.Run("AutoNAT", func(t *testing.T) {
		d := waitFor(t, "relay found publicly reachable", 20*time.Second, func() string {
			s := relay.state()
			if s.Reach != "Public" || !hasPrefix(s.Reachable, "/ip4/"+relayIP+"/") {
				return "relay: v1 " + s.Reach + ", v2 reachable " + strings.Join(s.Reachable, " ")
			}
			return ""
		})
		t.Logf("relay public after %v", d)
		d = waitFor(t, "a finds itself private", 30*time.Second, func() string {
			s := a.state()
			if s.Reach != "Private" {
				return "a: v1 " + s.Reach
			}
			return ""
		})
		t.Logf("a private after %v (since start %v)", d, time.Since(start))
	})

	var circuit string // a's address through the relay
	t.Run("Relay", func(t *testing.T) {
		d := waitFor(t, "a holds a relay reservation", 15*time.Second, func() string {
			s := a.state()
			for _, ad := range s.Addrs {
				if strings.HasPrefix(ad, "/ip4/"+relayIP+"/tcp/4101/p2p/"+relay.ID+"/p2p-circuit/p2p/"+a.ID) {
					circuit = ad
					return ""
				}
			}
			return "a's addresses: " + strings.Join(s.Addrs, " ")
		})
		t.Logf("a reachable at %s after %v", circuit, d)
		if _, err := b.do(agentReq{Op: "connect", Addr: circuit}); err != nil {
			t.Fatalf("b: connect %s: %v", circuit, err)
		}
		const msg = "through the relay"
		r, err := b.do(agentReq{Op: "echo", Peer: a.ID, Data: msg, Limited: true})
		if err != nil {
			t.Fatalf("b: echo to a over the relay: %v", err)
		}
		if r.Data != msg || !r.Conn.Limited || !strings.Contains(r.Conn.Remote, "/p2p-circuit") {
			t.Fatalf("b: echo to a = %q over %+v, want %q over a relayed connection", r.Data, r.Conn, msg)
		}
	})
	if circuit == "" {
		t.Fatal("a has no relay address: cannot test hole punching")
	}

	t.Run("HolePunch", func(t *testing.T) {
		d := waitFor(t, "a direct connection between a and b", 15*time.Second, func() string {
			s := b.state()
			for _, c := range s.Conns {
				if c.Peer == a.ID && !c.Limited && strings.HasPrefix(c.Remote, "/ip4/"+nat1WAN+"/") {
					return ""
				}
			}
			return fmt.Sprintf("b's connections: %+v", s.Conns)
		})
		t.Logf("direct after %v", d)
		const msg = "straight through both NATs"
		r, err := b.do(agentReq{Op: "echo", Peer: a.ID, Data: msg})
		if err != nil {
			t.Fatalf("b: echo to a through Host.NewStream: %v", err)
		}
		if r.Data != msg || r.Conn.Limited || !strings.HasPrefix(r.Conn.Remote, "/ip4/"+nat1WAN+"/") {
			t.Fatalf("b: echo to a = %q over %+v, want %q over a direct connection to %s", r.Data, r.Conn, msg, nat1WAN)
		}
		t.Logf("b reaches a at %s", r.Conn.Remote)
	})

	// A file stored from b, behind one NAT, on three providers, one of
	// them a, behind the other NAT, then read back with a needed: k=2,
	// m=1 puts one shard on each provider, and the public provider pub is
	// stopped before the retrieval, so it takes a's shard and the relay's.
	t.Run("StoreRetrieve", func(t *testing.T) {
		d := waitFor(t, "dsn daemon a reachable through the relay", 30*time.Second, func() string {
			s := da.status()
			if !hasSubstring(s.Addrs, "/p2p/"+drelay.ID+"/p2p-circuit") {
				return "a's addresses: " + strings.Join(s.Addrs, " ")
			}
			return ""
		})
		t.Logf("dsn daemon a has a relay address after %v (since start %v)", d, time.Since(start))
		// b starts only now, so that its first lookups through the relay
		// already learn a's relayed address; a store needs k+m connected
		// peers, and nothing else would make b look for a again soon.
		db.run()
		d = waitFor(t, "dsn daemon b connected to a", 20*time.Second, func() string {
			s := db.status()
			if !slices.Contains(s.Peers, da.ID) {
				return "b's peers: " + strings.Join(s.Peers, " ")
			}
			return ""
		})
		t.Logf("dsn daemon b connected to a after %v", d)
		data := make([]byte, 300<<10)
		rand.Read(data)
		in := writeFile(t, "in", data)
		out, err := dsnCmd(t, bb.bin, nn.b, 45*time.Second, "store", "--repo", db.repo, "--k", "2", "--m", "1", in)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Fields(out)
		if len(lines) == 0 {
			t.Fatalf("dsn store printed no reference")
		}
		ref := lines[len(lines)-1]
		if s := da.status(); s.Shards < 1 {
			t.Fatalf("dsn daemon a holds %d shards after the store, want 1", s.Shards)
		}
		dpub.stop()
		got := filepath.Join(t.TempDir(), "out")
		if _, err := dsnCmd(t, bb.bin, nn.b, 45*time.Second, "retrieve", "--repo", db.repo, "-o", got, ref); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("retrieved %d bytes, not the %d stored", len(b), len(data))
		}
		t.Logf("stored and retrieved through a NATed provider; since start %v", time.Since(start))
	})
}

func hasSubstring(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestMDNS runs two pairs of nodes on one private LAN (a bridge, 10.77.3.0/24)
// with no bootstrap peers: the pair with MDNS on must find and connect to
// each other; the pair with it off, there all along, must have met no one
// by then.
func TestMDNS(t *testing.T) {
	n := netnstest.New(t)
	sw := n.Switch("lan")
	h1, h2 := n.Namespace("h1"), n.Namespace("h2")
	sw.Plug(h1, "eth0", "10.77.3.2/24")
	sw.Plug(h2, "eth0", "10.77.3.3/24")
	on := []string{"/ip4/0.0.0.0/tcp/4101", "/ip4/0.0.0.0/udp/4101/quic-v1"}
	off := []string{"/ip4/0.0.0.0/tcp/4102", "/ip4/0.0.0.0/udp/4102/quic-v1"}
	quiet1 := startAgent(t, h1, "quiet1", agentConfig{Listen: off})
	quiet2 := startAgent(t, h2, "quiet2", agentConfig{Listen: off})
	m1 := startAgent(t, h1, "mdns1", agentConfig{Listen: on, MDNS: true})
	m2 := startAgent(t, h2, "mdns2", agentConfig{Listen: on, MDNS: true})

	connectedTo := func(a *agent, p string) (bool, []connInfo) {
		s := a.state()
		for _, c := range s.Conns {
			if c.Peer == p {
				return true, s.Conns
			}
		}
		return false, s.Conns
	}
	d := waitFor(t, "MDNS nodes find each other", 15*time.Second, func() string {
		for _, x := range []struct{ a, b *agent }{{m1, m2}, {m2, m1}} {
			if ok, cs := connectedTo(x.a, x.b.ID); !ok {
				return fmt.Sprintf("%s's connections: %+v", x.a.name, cs)
			}
		}
		return ""
	})
	t.Logf("found each other after %v", d)
	for _, q := range []*agent{quiet1, quiet2} {
		if s := q.state(); len(s.Conns) != 0 {
			t.Errorf("%s, without MDNS or bootstrap peers, is connected to %+v, want no one", q.name, s.Conns)
		}
	}
}
