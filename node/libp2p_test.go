package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
)

func startLibp2pNet(t *testing.T, n int) *LocalNetwork {
	t.Helper()
	if testing.Short() {
		t.Skip("starts libp2p hosts")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := StartLocalNetwork(ctx, t.TempDir(), n, LocalOptions{Libp2p: true, Client: ClientOptions{ShardTimeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestLibp2pStoreRetrieve runs the data path over real libp2p hosts on
// 127.0.0.1: store, lose m providers holding shards, retrieve.
func TestLibp2pStoreRetrieve(t *testing.T) {
	l := startLibp2pNet(t, 7)
	data := testData(5<<20+11, 21)
	res := storeBytes(t, l, data, StoreOptions{})
	for _, p := range DataHolders(res.Manifest, 2) {
		l.Kill(p)
	}
	got, err := retrieveBytes(t, l, res.Reference)
	if err != nil {
		t.Fatalf("retrieve over libp2p after losing 2 providers: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("retrieved bytes differ from the stored ones")
	}
}

// TestPlacementFollowsTheRule recomputes, from the peer IDs alone, who
// should hold every shard (docs/placement.md) and compares it with the
// placement the client chose over the DHT.
func TestPlacementFollowsTheRule(t *testing.T) {
	l := startLibp2pNet(t, 9)
	res := storeBytes(t, l, testData(7<<20, 22), StoreOptions{K: 3, M: 2})
	var providers []dsn.PeerID
	for _, p := range l.Providers {
		providers = append(providers, p.ID)
	}
	for i, seg := range res.Manifest.Segments {
		taken := map[dsn.PeerID]bool{}
		for j, sh := range seg.Shards {
			// The rule: the provider closest to the shard's key by XOR of
			// SHA-256 images, skipping those holding another shard of the
			// segment. Every provider accepts here, so no one is skipped
			// for refusing.
			target := sha256.Sum256(append([]byte{0x1e, 0x20}, sh.ID[:]...))
			ranked := slices.Clone(providers)
			slices.SortFunc(ranked, func(a, b dsn.PeerID) int {
				da, db := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
				for x := range da {
					da[x] ^= target[x]
					db[x] ^= target[x]
				}
				return bytes.Compare(da[:], db[:])
			})
			var want dsn.PeerID
			for _, p := range ranked {
				if !taken[p] {
					want = p
					break
				}
			}
			taken[want] = true
			if sh.Provider != want {
				t.Errorf("segment %d shard %d: placed on %s, the rule says %s", i, j, l.Name(sh.Provider), l.Name(want))
			}
		}
	}
}
