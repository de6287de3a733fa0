package p2p_test

import (
	"crypto/ed25519"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/p2p"
)

// A peer ID travels as dsn.PeerID (the binary form) and is shown to people
// in its text form.
func ExampleParsePeerID() {
	seed := make([]byte, ed25519.SeedSize) // a fixed key, for fixed output
	k, _ := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed))
	id, _ := peer.IDFromPrivateKey(k)
	text := p2p.PeerIDString(dsn.PeerID(id))
	back, err := p2p.ParsePeerID(text)
	fmt.Println(text)
	fmt.Println(back == dsn.PeerID(id), err)
	// Output:
	// 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN
	// true <nil>
}
