package p2p

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Fixed peer IDs for golden output (Ed25519 identity multihashes).
const (
	goldenPeerA = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
	goldenPeerB = "12D3KooWGzBbgAZAzAXs2qTQFRB1ZDgHWK4pV3k1yQPpyP5iRfhN"
)

func mustInfo(t testing.TB, id string, addrs ...string) peer.AddrInfo {
	t.Helper()
	p, err := peer.Decode(id)
	if err != nil {
		t.Fatal(err)
	}
	ai := peer.AddrInfo{ID: p}
	for _, s := range addrs {
		ai.Addrs = append(ai.Addrs, ma.StringCast(s))
	}
	return ai
}

func TestPeersFileGolden(t *testing.T) {
	ps := []peer.AddrInfo{
		mustInfo(t, goldenPeerA, "/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/udp/4001/quic-v1"),
		mustInfo(t, goldenPeerB, "/ip6/::1/tcp/4002"),
		mustInfo(t, goldenPeerB[:len(goldenPeerB)-1]+"j"), // no addresses: skipped
	}
	got, err := encodePeers(ps)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "peers.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encodePeers =\n%s\nwant (%s)\n%s", got, golden, want)
	}
	back, err := decodePeers(want)
	if err != nil {
		t.Fatalf("decodePeers(golden) = %v", err)
	}
	if len(back) != 2 || back[0].ID != ps[0].ID || len(back[0].Addrs) != 2 || back[1].ID != ps[1].ID {
		t.Errorf("decodePeers(golden) = %v, want the two peers with addresses", back)
	}
}

func TestPeersFileBounds(t *testing.T) {
	var ps []peer.AddrInfo
	for range MaxSavedPeers + 5 {
		k := newKey(t)
		id, _ := peer.IDFromPrivateKey(k)
		ai := peer.AddrInfo{ID: id}
		for j := range maxAddrsPerPeer + 3 {
			ai.Addrs = append(ai.Addrs, ma.StringCast(fmt.Sprintf("/ip4/10.0.0.1/tcp/%d", 1000+j)))
		}
		ps = append(ps, ai)
	}
	b, err := encodePeers(ps)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodePeers(b)
	if err != nil {
		t.Fatalf("decodePeers(encodePeers(%d peers)) = %v", len(ps), err)
	}
	if len(back) != MaxSavedPeers || len(back[0].Addrs) != maxAddrsPerPeer {
		t.Errorf("encodePeers kept %d peers with %d addrs, want %d with %d", len(back), len(back[0].Addrs), MaxSavedPeers, maxAddrsPerPeer)
	}
}

func TestDecodePeersBad(t *testing.T) {
	entry := func(id string, addrs ...string) string {
		return fmt.Sprintf(`{"id":%q,"addrs":["%s"]}`, id, strings.Join(addrs, `","`))
	}
	file := func(entries ...string) string {
		return `{"version":1,"peers":[` + strings.Join(entries, ",") + `]}`
	}
	many := make([]string, MaxSavedPeers+1)
	for i := range many {
		k := newKey(t)
		id, _ := peer.IDFromPrivateKey(k)
		many[i] = entry(id.String(), "/ip4/1.2.3.4/tcp/1")
	}
	longAddr := "/dns4/" + strings.Repeat("a", maxAddrLen) + "/tcp/1"
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "EOF"},
		{"not json", "peers!", "invalid character"},
		{"wrong version", `{"version":2,"peers":[]}`, "version 2"},
		{"no version", `{"peers":[]}`, "version 0"},
		{"unknown field", `{"version":1,"peers":[],"extra":1}`, "unknown field"},
		{"trailing", `{"version":1,"peers":[]} {}`, "trailing data"},
		{"bad id", file(entry("nope", "/ip4/1.2.3.4/tcp/1")), "peer 0"},
		{"duplicate", file(entry(goldenPeerA, "/ip4/1.2.3.4/tcp/1"), entry(goldenPeerA, "/ip4/1.2.3.4/tcp/2")), "listed twice"},
		{"no addrs", file(`{"id":"` + goldenPeerA + `","addrs":[]}`), "0 addresses"},
		{"bad addr", file(entry(goldenPeerA, "/ip4/999.0.0.1/tcp/1")), "address 0"},
		{"p2p in addr", file(entry(goldenPeerA, "/ip4/1.2.3.4/tcp/1/p2p/"+goldenPeerB)), "must not contain /p2p/"},
		{"long addr", file(entry(goldenPeerA, longAddr)), "characters"},
		{"too many peers", file(many...), "more than 64"},
		{"too large", `{"version":1,"peers":[]}` + strings.Repeat(" ", maxPeersFileSize), "bytes, more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := decodePeers([]byte(tc.data))
			if !errors.Is(err, ErrBadPeersFile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decodePeers(%.60q) = %v, %v; want ErrBadPeersFile saying %q", tc.data, ps, err, tc.want)
			}
		})
	}
}

func TestReadPeersFileMissing(t *testing.T) {
	ps, err := readPeersFile(filepath.Join(t.TempDir(), "none.json"))
	if err != nil || ps != nil {
		t.Errorf("readPeersFile(missing) = %v, %v; want nil, nil", ps, err)
	}
}

// FuzzDecodePeers checks that the decoder never panics, that it rejects
// only with ErrBadPeersFile, and that what it accepts survives a round
// trip through the encoder unchanged.
func FuzzDecodePeers(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "peers.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"peers":[]}`))
	f.Add([]byte(`{"version":1,"peers":[{"id":"` + goldenPeerA + `","addrs":["/ip4/1.2.3.4/udp/5/quic-v1"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := decodePeers(data)
		if err != nil {
			if !errors.Is(err, ErrBadPeersFile) {
				t.Fatalf("decodePeers error %v does not wrap ErrBadPeersFile", err)
			}
			return
		}
		b, err := encodePeers(ps)
		if err != nil {
			t.Fatalf("encodePeers(accepted) = %v", err)
		}
		back, err := decodePeers(b)
		if err != nil {
			t.Fatalf("decodePeers(encodePeers(accepted)) = %v\n%s", err, b)
		}
		if len(back) != len(ps) {
			t.Fatalf("round trip kept %d of %d peers", len(back), len(ps))
		}
		for i := range ps {
			if back[i].ID != ps[i].ID || len(back[i].Addrs) != len(ps[i].Addrs) {
				t.Fatalf("round trip changed peer %d: %v -> %v", i, ps[i], back[i])
			}
			for j := range ps[i].Addrs {
				if !back[i].Addrs[j].Equal(ps[i].Addrs[j]) {
					t.Fatalf("round trip changed peer %d address %d: %s -> %s", i, j, ps[i].Addrs[j], back[i].Addrs[j])
				}
			}
		}
	})
}

// TestPeersFileSkipsRelayAddresses saves a peer behind NAT, reachable only
// through a relay: the saved file must still load, keeping the peers it can.
func TestPeersFileSkipsRelayAddresses(t *testing.T) {
	ps := []peer.AddrInfo{
		mustInfo(t, goldenPeerA, "/ip4/192.0.2.1/tcp/4001", "/ip4/198.51.100.9/tcp/4001/p2p/"+goldenPeerB+"/p2p-circuit"),
		mustInfo(t, goldenPeerB, "/ip4/198.51.100.9/tcp/4001/p2p/"+goldenPeerA+"/p2p-circuit"), // only a relay address
	}
	b, err := encodePeers(ps)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodePeers(b)
	if err != nil {
		t.Fatalf("decodePeers(encodePeers(peers with relay addresses)) = %v", err)
	}
	if len(back) != 1 || back[0].ID != ps[0].ID || len(back[0].Addrs) != 1 || back[0].Addrs[0].String() != "/ip4/192.0.2.1/tcp/4001" {
		t.Fatalf("round trip = %v, want the first peer with its direct address only", back)
	}
}
