package p2p

import (
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestParsePeerID(t *testing.T) {
	id, err := peerIDOf(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	s := PeerIDString(id)
	if !strings.HasPrefix(s, "12D3Koo") {
		t.Errorf("PeerIDString(Ed25519 peer) = %q, want the 12D3Koo... form", s)
	}
	if got, err := ParsePeerID(s); err != nil || got != id {
		t.Errorf("ParsePeerID(%q) = %q, %v; want the same peer", s, got, err)
	}
	// The CIDv1 form names the same peer.
	cidForm := peer.ToCid(peer.ID(id)).String()
	if got, err := ParsePeerID(cidForm); err != nil || got != id {
		t.Errorf("ParsePeerID(%q) = %q, %v; want the same peer", cidForm, got, err)
	}
	for _, bad := range []string{"", "12D3Koo", "hello world", s + "x", strings.Repeat("1", 300)} {
		if got, err := ParsePeerID(bad); !errors.Is(err, ErrBadPeerID) {
			t.Errorf("ParsePeerID(%.40q) = %q, %v; want ErrBadPeerID", bad, got, err)
		}
	}
	if got := PeerIDString("\x01\x02"); !strings.Contains(got, "0102") {
		t.Errorf("PeerIDString(invalid) = %q, want it to show the bytes", got)
	}
}
