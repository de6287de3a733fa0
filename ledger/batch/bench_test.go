package batch

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkVerify compares one-by-one crypto/ed25519.Verify with Verify on
// the same signatures in the same run: distinct keys, and 16 keys signing
// everything (one client signing many receipts).
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{64, 1024, 10000} {
		for _, keys := range []int{n, 16} {
			items := validItems(rand.NewChaCha8([32]byte{9}), n, keys)
			name := fmt.Sprintf("n=%d/keys=%d", n, keys)
			if keys == n {
				name = fmt.Sprintf("n=%d/keys=distinct", n)
			}
			b.Run(name+"/crypto", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					for i := range items {
						if !ed25519.Verify(items[i].PublicKey, items[i].Message, items[i].Signature) {
							b.Fatal("valid signature rejected")
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
			})
			b.Run(name+"/batch", func(b *testing.B) {
				b.ReportAllocs()
				v := NewVerifier()
				var out []bool
				for b.Loop() {
					out = v.Verify(items, out)
				}
				for _, ok := range out {
					if !ok {
						b.Fatal("valid signature rejected")
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
			})
		}
	}
}
