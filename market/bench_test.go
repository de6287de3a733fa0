package market

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/dsn-project/dsn"
)

// BenchmarkAsk measures taking in a gossiped ask (decode and verify)
// against the bare Ed25519 verification it is dominated by.
func BenchmarkAsk(b *testing.B) {
	a := testAsk(b, 1, 7)
	raw, _ := a.MarshalBinary()
	msg := a.signedMessage()
	b.Run("decode+verify", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			var got Ask
			if err := got.UnmarshalBinary(raw); err != nil {
				b.Fatal(err)
			}
			if err := got.Verify(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ed25519.Verify", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(a.Provider[:], msg, a.Sig[:]) {
				b.Fatal("bad signature")
			}
		}
	})
}

// BenchmarkSelect places one segment of k+m shards, each with its own
// ranked list of n candidates.
func BenchmarkSelect(b *testing.B) {
	for _, tc := range []struct{ shards, n int }{{6, 20}, {30, 100}} {
		b.Run(fmt.Sprintf("shards=%d/candidates=%d", tc.shards, tc.n), func(b *testing.B) {
			a := testAsk(b, 1, 1)
			all := make([]Candidate, tc.n)
			ids := make([]dsn.PeerID, tc.n)
			byID := map[dsn.PeerID]Candidate{}
			for i := range all {
				ids[i] = dsn.PeerID(fmt.Sprintf("peer-%03d", i))
				all[i] = Candidate{Peer: ids[i], Ask: &a, Rep: Reputation{Alpha: 1000, Passed: 100, Vetted: true},
					Subnets: []string{fmt.Sprintf("net-%d", i%(tc.n/2))}}
				byID[ids[i]] = all[i]
			}
			cands := make([][]Candidate, tc.shards)
			for s := range cands {
				for _, id := range Rank([]byte{byte(s)}, ids) {
					cands[s] = append(cands[s], byID[id])
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Select(cands, testLimits, 1<<20, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
