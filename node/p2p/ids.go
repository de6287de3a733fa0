package p2p

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dsn-project/dsn"
)

// ErrBadPeerID is returned by ParsePeerID for text that is not a peer ID.
var ErrBadPeerID = errors.New("malformed peer id")

// PeerIDString returns the usual text form of p ("12D3Koo..." for Ed25519
// keys), for logs, status output and bootstrap lists. A PeerID that is not
// a valid libp2p peer ID is shown in hex so that it is still visible.
func PeerIDString(p dsn.PeerID) string {
	id, err := peer.IDFromBytes([]byte(p))
	if err != nil {
		return fmt.Sprintf("invalid-peer-id-%x", string(p))
	}
	return id.String()
}

// ParsePeerID parses the text form of a peer ID (base58 or CIDv1).
func ParsePeerID(s string) (dsn.PeerID, error) {
	if len(s) > 2*dsn.MaxPeerIDSize {
		return "", fmt.Errorf("peer id %.20q...: %w: %d characters, want at most %d", s, ErrBadPeerID, len(s), 2*dsn.MaxPeerIDSize)
	}
	id, err := peer.Decode(s)
	if err != nil {
		return "", fmt.Errorf("peer id %q: %w: %v", s, ErrBadPeerID, err)
	}
	if len(id) > dsn.MaxPeerIDSize {
		return "", fmt.Errorf("peer id %q: %w: %d bytes, want at most %d", s, ErrBadPeerID, len(id), dsn.MaxPeerIDSize)
	}
	return dsn.PeerID(id), nil
}

// peerIDOf returns the peer ID of key.
func peerIDOf(k crypto.PrivKey) (dsn.PeerID, error) {
	id, err := peer.IDFromPrivateKey(k)
	return dsn.PeerID(id), err
}
