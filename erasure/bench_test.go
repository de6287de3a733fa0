package erasure

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/reedsolomon"
)

// The benchmarks measure the wrapper and the raw library in the same run so
// their ratio can be read off directly; every figure is in bytes of segment
// (b.SetBytes(segLen)), not bytes of shards. BenchmarkEncode and
// BenchmarkDecode are the plain per-variant benchmarks; BenchmarkPaired
// alternates wrapper and library op by op and gives the steadier ratios
// (the figures quoted at DefaultSegmentChunks come from it).
//
//	go test ./erasure -run '^$' -bench . -count 5

var benchCodes = []struct{ k, m int }{{4, 2}, {10, 4}, {29, 51}}

var benchSizes = []int64{4 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20, 128 << 20}

// fillPattern fills b with cheap non-zero bytes; Reed-Solomon speed does
// not depend on the values, and a PRNG over hundreds of MiB would dominate
// setup time.
func fillPattern(b []byte) {
	for i := range b {
		b[i] = byte(i*131 + i>>9)
	}
}

// rawShards returns k+m separately allocated shards of s bytes, data filled.
func rawShards(k, m, s int) [][]byte {
	sh := make([][]byte, k+m)
	for i := range sh {
		sh[i] = make([]byte, s)
		if i < k {
			fillPattern(sh[i])
		}
	}
	return sh
}

func benchName(k, m int, n int64) string { return fmt.Sprintf("%d+%d/%dMiB", k, m, n>>20) }

func BenchmarkEncode(b *testing.B) {
	for _, cd := range benchCodes {
		c := mustNew(b, cd.k, cd.m)
		raw, err := reedsolomon.New(cd.k, cd.m)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range benchSizes {
			s := int(ShardSize(n, cd.k))
			b.Run(benchName(cd.k, cd.m, n)+"/erasure", func(b *testing.B) {
				buf := make([]byte, c.BufferSize(n))
				fillPattern(buf[:n])
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Encode(buf, n); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(benchName(cd.k, cd.m, n)+"/raw", func(b *testing.B) {
				shards := rawShards(cd.k, cd.m, s)
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					if err := raw.Encode(shards); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, cd := range benchCodes {
		c := mustNew(b, cd.k, cd.m)
		raw, err := reedsolomon.New(cd.k, cd.m)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range benchSizes {
			s := int(ShardSize(n, cd.k))
			// All data shards present: Decode is k copies; the baseline is
			// one copy of the whole segment.
			b.Run(benchName(cd.k, cd.m, n)+"/all/erasure", func(b *testing.B) {
				buf := make([]byte, c.BufferSize(n))
				fillPattern(buf[:n])
				shards, err := c.Encode(buf, n)
				if err != nil {
					b.Fatal(err)
				}
				dst := make([]byte, n)
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Decode(shards, n, dst); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(benchName(cd.k, cd.m, n)+"/all/memcpy", func(b *testing.B) {
				src := make([]byte, n)
				fillPattern(src)
				dst := make([]byte, n)
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					copy(dst, src)
				}
			})
			// Data shards 0 and 1 lost: two shards are rebuilt from k.
			b.Run(benchName(cd.k, cd.m, n)+"/lost2/erasure", func(b *testing.B) {
				buf := make([]byte, c.BufferSize(n))
				fillPattern(buf[:n])
				shards, err := c.Encode(buf, n)
				if err != nil {
					b.Fatal(err)
				}
				in := without(shards, 0, 1)
				dst := make([]byte, n)
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Decode(in, n, dst); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(benchName(cd.k, cd.m, n)+"/lost2/raw", func(b *testing.B) {
				shards := rawShards(cd.k, cd.m, s)
				if err := raw.Encode(shards); err != nil {
					b.Fatal(err)
				}
				lost0, lost1 := shards[0], shards[1]
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					shards[0], shards[1] = lost0[:0], lost1[:0]
					if err := raw.ReconstructData(shards); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPaired alternates the wrapper and the raw library op by op on
// the same segment size and reports both speeds and their ratio. On a
// shared machine whose load drifts during a run, alternating makes the
// ratio far steadier than comparing two separate sub-benchmarks.
//
//	go test ./erasure -run '^$' -bench Paired -count 5
func BenchmarkPaired(b *testing.B) {
	for _, cd := range benchCodes {
		c := mustNew(b, cd.k, cd.m)
		raw, err := reedsolomon.New(cd.k, cd.m)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range benchSizes {
			s := int(ShardSize(n, cd.k))
			buf := make([]byte, c.BufferSize(n))
			fillPattern(buf[:n])
			shards, err := c.Encode(buf, n)
			if err != nil {
				b.Fatal(err)
			}
			rs := rawShards(cd.k, cd.m, s)
			dst := make([]byte, n)
			in := without(shards, 0, 1)
			lost0, lost1 := rs[0], rs[1]
			joined := bytes.NewBuffer(make([]byte, 0, n))
			flat := make([]byte, n) // memcpy baseline for the all-data Decode
			ops := []struct {
				name string
				ours func()
				refs []func() // raw library equivalents, reported as raw-MB/s, raw2-MB/s
			}{
				{"encode", func() { c.Encode(buf, n) }, []func(){func() { raw.Encode(rs) }}},
				{"all", func() { c.Decode(shards, n, dst) }, []func(){func() { copy(flat, buf[:n]) }}},
				{"lost2", func() { c.Decode(in, n, dst) }, []func(){
					func() {
						rs[0], rs[1] = lost0[:0], lost1[:0]
						raw.ReconstructData(rs)
					},
					// The like-for-like baseline: rebuild, then join into
					// one contiguous segment as Decode returns it.
					func() {
						rs[0], rs[1] = lost0[:0], lost1[:0]
						raw.ReconstructData(rs)
						joined.Reset()
						raw.Join(joined, rs, int(n))
					},
				}},
			}
			for _, op := range ops {
				b.Run(benchName(cd.k, cd.m, n)+"/"+op.name, func(b *testing.B) {
					var tOurs time.Duration
					tRef := make([]time.Duration, len(op.refs))
					for b.Loop() {
						t0 := time.Now()
						op.ours()
						tOurs += time.Since(t0)
						for i, ref := range op.refs {
							t0 = time.Now()
							ref()
							tRef[i] += time.Since(t0)
						}
					}
					mb := float64(n) * float64(b.N) / 1e6
					b.ReportMetric(mb/tOurs.Seconds(), "ours-MB/s")
					b.ReportMetric(mb/tRef[0].Seconds(), "raw-MB/s")
					b.ReportMetric(tRef[0].Seconds()/tOurs.Seconds(), "ratio")
					if len(tRef) > 1 {
						b.ReportMetric(mb/tRef[1].Seconds(), "raw+join-MB/s")
						b.ReportMetric(tRef[1].Seconds()/tOurs.Seconds(), "ratio-join")
					}
				})
			}
		}
	}
}
