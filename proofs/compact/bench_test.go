package compact

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
	"github.com/dsn-project/dsn"
	"github.com/klauspost/reedsolomon"
)

var benchSizes = []int{1 << 20, 16 << 20}

func benchData(size int) []byte {
	rng := rand.New(rand.NewPCG(1, uint64(size)))
	b := make([]byte, size)
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// BenchmarkTag compares tagging with the lazy kernel (IFMA where the CPU
// has it, and the portable one) against the same sums
// done with Scalar.MultiplyAdd, and against Reed-Solomon encoding (k=4, m=2)
// of the same bytes, the other per-byte cost of storing.
func BenchmarkTag(b *testing.B) {
	k := testKey(1)
	for _, size := range benchSizes {
		data := benchData(size)
		id := dsn.SumShard(data)
		tag := func(name string, k *Key) {
			b.Run(fmt.Sprintf("%s/%dMiB", name, size>>20), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					t := k.NewTagger(id, io.Discard)
					t.Write(data)
					t.Close()
				}
			})
		}
		tag("lazy", k)
		if k.alphaIFMA != nil {
			// The portable kernel, where the one above is IFMA's.
			portable := *k
			portable.alphaIFMA = nil
			tag("lazy-portable", &portable)
		}
		b.Run(fmt.Sprintf("multiplyadd/%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			f := newPRF(k)
			var sector [32]byte
			var m edwards25519.Scalar
			for b.Loop() {
				for blk := 0; blk*BlockSize < len(data); blk++ {
					var block [BlockSize]byte
					copy(block[:], data[blk*BlockSize:])
					s := f.scalar(new(edwards25519.Scalar), id, uint64(blk))
					for j := 0; j < Sectors; j++ {
						copy(sector[:SectorSize], block[j*SectorSize:])
						m.SetCanonicalBytes(sector[:])
						s.MultiplyAdd(&k.alpha[j], &m, s)
					}
				}
			}
		})
		b.Run(fmt.Sprintf("reedsolomon-4+2/%dMiB", size>>20), func(b *testing.B) {
			enc, err := reedsolomon.New(4, 2)
			if err != nil {
				b.Fatal(err)
			}
			shards, err := enc.Split(bytes.Clone(data))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := enc.Encode(shards); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// synthShard stands for a large shard without holding it: only the blocks
// a challenge reads are materialised, from a small pool of random blocks,
// and their tags are computed up front, so Prove is timed on the arithmetic
// and a memory copy per block.
type synthShard struct {
	id     dsn.ShardID
	size   int64
	blocks map[uint64][]byte
	tags   map[uint64][]byte
}

func newSynthShard(b *testing.B, k *Key, n byte, size int64, pool [][]byte, ch *Challenge, i int) *synthShard {
	s := &synthShard{id: dsn.ShardID{n, 0xaa}, size: size, blocks: map[uint64][]byte{}, tags: map[uint64][]byte{}}
	f := newPRF(k)
	for _, blk := range ch.Blocks(i) {
		data := pool[(uint64(n)*7919+blk)%uint64(len(pool))]
		s.blocks[blk] = data
		rows := innerProduct(&k.alphaLimbs, (*[BlockSize]byte)(data))
		var tag, r edwards25519.Scalar
		reduceRows(&tag, &rows)
		tag.Add(&tag, f.scalar(&r, s.id, blk))
		s.tags[blk] = tag.Bytes()
	}
	return s
}

type synthData struct{ s *synthShard }

func (r synthData) ReadAt(p []byte, off int64) (int, error) {
	blk := uint64(off / BlockSize)
	data, ok := r.s.blocks[blk]
	if !ok || off%BlockSize != 0 {
		return 0, fmt.Errorf("synthetic shard: read at %d not prepared", off)
	}
	return copy(p, data), nil
}

type synthTags struct{ s *synthShard }

func (r synthTags) ReadAt(p []byte, off int64) (int, error) {
	if off == 0 && len(p) == 1 {
		p[0] = TagsVersion
		return 1, nil
	}
	blk := uint64((off - 1) / ScalarSize)
	t, ok := r.s.tags[blk]
	if !ok {
		return 0, fmt.Errorf("synthetic tags: read at %d not prepared", off)
	}
	return copy(p, t), nil
}

// BenchmarkProve and BenchmarkVerify use 1 GiB shards challenged at c = 459
// (1% missing detected with 99% probability), alone and 64 at once.
func BenchmarkProve(b *testing.B) {
	benchProveVerify(b, true)
}

func BenchmarkVerify(b *testing.B) {
	benchProveVerify(b, false)
}

func benchProveVerify(b *testing.B, proving bool) {
	k := testKey(1)
	pool := make([][]byte, 256)
	for i := range pool {
		pool[i] = benchData(BlockSize + i)[:BlockSize]
	}
	for _, nshards := range []int{1, 64} {
		b.Run(fmt.Sprintf("shards=%d/1GiB/c=%d", nshards, c459), func(b *testing.B) {
			var ts []Target
			for i := 0; i < nshards; i++ {
				ts = append(ts, Target{ID: dsn.ShardID{byte(i), 0xaa}, Size: 1 << 30})
			}
			ch := mustChallenge(b, testSeed(1), c459, ts)
			shards := make([]*synthShard, nshards)
			for i := range shards {
				shards[i] = newSynthShard(b, k, byte(i), 1<<30, pool, ch, i)
			}
			proveOnce := func() *Proof {
				p := NewProver(ch)
				for i, s := range shards {
					if err := p.Add(i, synthData{s}, synthTags{s}); err != nil {
						b.Fatal(err)
					}
				}
				pr, err := p.Proof()
				if err != nil {
					b.Fatal(err)
				}
				return pr
			}
			pr := proveOnce()
			if err := k.Verify(ch, pr); err != nil {
				b.Fatalf("Verify: %v", err)
			}
			b.ReportAllocs()
			if proving {
				for b.Loop() {
					proveOnce()
				}
			} else {
				for b.Loop() {
					if err := k.Verify(ch, pr); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(pr.Encode())), "proof-bytes")
		})
	}
}
