package p2p

import (
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Whatever addresses peers announce, the peers file SavePeers writes is
// one the next start reads: JSON spells '<' in six bytes, so addresses
// within the bound before escaping could make a file over the reader's.
func TestSavedPeersFileIsAlwaysReadable(t *testing.T) {
	escaped := strings.Repeat("<", 490)
	var ps []peer.AddrInfo
	for range MaxSavedPeers {
		id, err := peer.IDFromPrivateKey(newKey(t))
		if err != nil {
			t.Fatal(err)
		}
		ai := peer.AddrInfo{ID: id}
		for j := range maxAddrsPerPeer {
			host := escaped
			if j == 0 {
				host = "node.example" // an ordinary address, kept
			}
			a, err := ma.NewMultiaddr("/dns4/" + host + "/tcp/" + string(rune('1'+j%9)))
			if err != nil {
				t.Fatal(err)
			}
			ai.Addrs = append(ai.Addrs, a)
		}
		ps = append(ps, ai)
	}
	b, err := encodePeers(ps)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodePeers(b)
	if err != nil {
		t.Fatalf("file written by encodePeers (%d bytes) refused by decodePeers: %v", len(b), err)
	}
	if len(got) != MaxSavedPeers {
		t.Fatalf("decodePeers = %d peers, want %d (each with its ordinary address)", len(got), MaxSavedPeers)
	}
	for _, p := range got {
		if len(p.Addrs) != 1 || p.Addrs[0].String() != "/dns4/node.example/tcp/1" {
			t.Fatalf("peer %s kept addresses %v, want only its ordinary one", p.ID, p.Addrs)
		}
	}
}
