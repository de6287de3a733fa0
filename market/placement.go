package market

import (
	"bytes"
	"crypto/sha256"
	"slices"

	"github.com/dsn-project/dsn"
)

// Key maps a shard, blob or peer identity into the Kademlia key space. It is
// SHA-256, as in go-libp2p-kad-dht, so that the ranking here is the same one
// the DHT's closest-peer queries compute.
func Key(b []byte) [32]byte { return sha256.Sum256(b) }

// Rank returns peers ordered by XOR distance between their key and the key of
// target, closest first; ties (equal peer IDs) keep a stable order. It does
// not modify peers.
func Rank(target []byte, peers []dsn.PeerID) []dsn.PeerID {
	t := Key(target)
	type ranked struct {
		p dsn.PeerID
		d [32]byte
	}
	rs := make([]ranked, len(peers))
	for i, p := range peers {
		k := Key([]byte(p))
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

// Candidates returns the peers that may hold shard id of a segment, in the
// order a client should try them: the ranking by Rank of the shard's routing
// key (its multihash, the key the DHT uses for it), with the peers already
// holding another shard of the same segment left out, because two shards of
// one segment on one peer would let a single failure take both.
func Candidates(id dsn.ShardID, peers []dsn.PeerID, taken map[dsn.PeerID]bool) []dsn.PeerID {
	ranked := Rank(id.Multihash(), peers)
	return slices.DeleteFunc(ranked, func(p dsn.PeerID) bool { return taken[p] })
}
