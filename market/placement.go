package market

import (
	"bytes"
	"crypto/sha256"
	"slices"

	"github.com/dsn-project/dsn"
)

// key maps a shard, blob or peer identity into the Kademlia key space. It is
// SHA-256, as in go-libp2p-kad-dht, so that the ranking here is the same one
// the DHT's closest-peer queries compute.
func key(b []byte) [32]byte { return sha256.Sum256(b) }

// Rank returns peers ordered by XOR distance between their key and the key of
// target, closest first; ties (equal peer IDs) keep a stable order. It does
// not modify peers.
func Rank(target []byte, peers []dsn.PeerID) []dsn.PeerID {
	t := key(target)
	type ranked struct {
		p dsn.PeerID
		d [32]byte
	}
	rs := make([]ranked, len(peers))
	for i, p := range peers {
		k := key([]byte(p))
		for j := range k {
			k[j] ^= t[j]
		}
		rs[i] = ranked{p, k}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return bytes.Compare(a.d[:], b.d[:]) })
	out := make([]dsn.PeerID, len(rs))
	for i, r := range rs {
		out[i] = r.p
	}
	return out
}
