package auditproto

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/dsn-project/dsn/proofs"
	"github.com/dsn-project/dsn/proofs/compact"
	"github.com/dsn-project/dsn/proofs/merkle"
)

// BenchmarkAudit measures one audit round trip over inproc against a real
// store on disk (page-cached after the first rounds), next to the proof
// library alone on the same bytes in memory. Bytes/s counts the challenged
// data the prover reads: c groups of 16 KiB (Merkle) or c blocks of 6200
// bytes (compact).
func BenchmarkAudit(b *testing.B) {
	for _, size := range []int{64 << 20} {
		f := newFixture(b, ServerOptions{})
		id := f.add(b, 1, size)
		data := f.shards[id]
		ctx := testCtx(b)
		if err := f.srv.Prepare(ctx, id); err != nil {
			b.Fatal(err)
		}
		f.tag(b, id)
		c := proofs.SamplesFor(0.01, 0.99)
		target := compact.Target{ID: id, Size: int64(size)}
		ob, err := merkle.BuildOutboard(data)
		if err != nil {
			b.Fatal(err)
		}
		tags, err := f.key.Tags(id, data)
		if err != nil {
			b.Fatal(err)
		}
		name := func(s string) string { return s + "/" + sizeName(size) }

		b.Run(name("merkle/inproc"), func(b *testing.B) {
			b.SetBytes(int64(c) * merkle.GroupSize)
			b.ReportAllocs()
			var proofBytes int
			for i := 0; b.Loop(); i++ {
				r := AuditMerkle(ctx, f.third, f.provider, id, int64(size), epochSeed(i), c)
				if r.Outcome != Pass {
					b.Fatalf("AuditMerkle = %v (%v)", r.Outcome, r.Reason)
				}
				proofBytes = r.ProofBytes
			}
			b.ReportMetric(float64(proofBytes), "proof-B")
		})
		b.Run(name("merkle/library"), func(b *testing.B) {
			b.SetBytes(int64(c) * merkle.GroupSize)
			b.ReportAllocs()
			var proofBytes int
			for i := 0; b.Loop(); i++ {
				seed := epochSeed(i)
				p, err := merkle.Prove(seed, c, id, bytes.NewReader(data), int64(size), ob)
				if err != nil {
					b.Fatal(err)
				}
				enc, _ := p.MarshalBinary()
				q, err := merkle.UnmarshalProof(enc, c)
				if err == nil {
					err = merkle.Verify(id, int64(size), seed, c, q)
				}
				if err != nil {
					b.Fatal(err)
				}
				proofBytes = len(enc)
			}
			b.ReportMetric(float64(proofBytes), "proof-B")
		})
		b.Run(name("compact/inproc"), func(b *testing.B) {
			b.SetBytes(int64(c) * compact.BlockSize)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ch, _ := compact.NewChallenge(epochSeed(i), c, []compact.Target{target})
				r := AuditCompact(ctx, f.owner, f.provider, f.key, ch)
				if r.Outcome != Pass {
					b.Fatalf("AuditCompact = %v (%v)", r.Outcome, r.Reason)
				}
			}
			b.ReportMetric(compact.ProofSize, "proof-B")
		})
		b.Run(name("compact/library"), func(b *testing.B) {
			b.SetBytes(int64(c) * compact.BlockSize)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ch, _ := compact.NewChallenge(epochSeed(i), c, []compact.Target{target})
				pr := compact.NewProver(ch)
				if err := pr.Add(0, bytes.NewReader(data), bytes.NewReader(tags)); err != nil {
					b.Fatal(err)
				}
				p, err := pr.Proof()
				if err != nil {
					b.Fatal(err)
				}
				q, err := compact.DecodeProof(p.Encode())
				if err == nil {
					err = f.key.Verify(ch, q)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(compact.ProofSize, "proof-B")
		})
	}
}

func sizeName(n int) string { return strconv.Itoa(n>>20) + "MiB" }
