package merkle

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/proofs"
	"github.com/zeebo/blake3"
)

// BenchmarkOutboard compares building the outboard as a shard streams in
// (1 MiB writes) with plain BLAKE3 over the same bytes, one-shot and
// streamed, in the same run.
func BenchmarkOutboard(b *testing.B) {
	const size = 64 << 20
	data := randomBytes(1, size)
	const step = 1 << 20
	b.Run("outboard/64MiB", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			w := NewOutboardWriter()
			for off := 0; off < size; off += step {
				w.Write(data[off : off+step])
			}
			w.Sum()
		}
	})
	b.Run("blake3.Sum256/64MiB", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			blake3.Sum256(data)
		}
	})
	b.Run("blake3.Hasher/64MiB", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			h := blake3.New()
			for off := 0; off < size; off += step {
				h.Write(data[off : off+step])
			}
			h.Sum(nil)
		}
	})
	// The package's own plain-Go tree code, which Verify uses: the reason
	// the outboard is not built with it.
	b.Run("reference/4MiB", func(b *testing.B) {
		b.SetBytes(4 << 20)
		for b.Loop() {
			subtreeCV(data[:4<<20], 0, true)
		}
	})
}

// patternShard is a deterministic shard of any size that is generated on
// read, so a 1 GiB shard needs no 1 GiB of memory or disk.
type patternShard struct {
	block []byte // 64 KiB of random bytes
	size  int64
}

func newPatternShard(size int64) *patternShard {
	return &patternShard{block: randomBytes(77, 64<<10), size: size}
}

func (s *patternShard) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off < s.size {
		o := off % int64(len(s.block))
		k := copy(p[n:min(len(p), n+int(s.size-off))], s.block[o:])
		// Each 64 KiB block differs from the others.
		tag := byte(off >> 16)
		for j := n; j < n+k; j++ {
			p[j] ^= tag
		}
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

type benchShard struct {
	r    io.ReaderAt
	size int64
	id   dsn.ShardID
	ob   *Outboard
}

var benchShards = map[int64]*benchShard{}

// shardForBench builds (once per process) a shard of size bytes and its
// outboard, outside any timer.
func shardForBench(b *testing.B, size int64) *benchShard {
	b.Helper()
	if s, ok := benchShards[size]; ok {
		return s
	}
	var r io.ReaderAt
	if size <= 64<<20 {
		r = bytes.NewReader(randomBytes(2, int(size)))
	} else {
		r = newPatternShard(size)
	}
	w := NewOutboardWriter()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		n, _ := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		w.Write(buf[:n])
	}
	ob := w.Sum()
	s := &benchShard{r: r, size: size, id: ob.Root(), ob: ob}
	benchShards[size] = s
	return s
}

var benchSizes = []struct {
	name string
	size int64
}{{"4MiB", 4 << 20}, {"64MiB", 64 << 20}, {"1GiB", 1 << 30}}

func BenchmarkProve(b *testing.B) {
	c := proofs.SamplesFor(0.01, 0.99)
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("c=%d/%s", c, sz.name), func(b *testing.B) {
			s := shardForBench(b, sz.size)
			b.ReportAllocs()
			var p *Proof
			i := 0
			for b.Loop() {
				var err error
				p, err = Prove(testSeed(i%16), c, s.id, s.r, s.size, s.ob)
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
			enc, _ := p.MarshalBinary()
			b.ReportMetric(float64(len(enc)), "proof-B")
			b.ReportMetric(float64(len(p.Leaves)), "leaves")
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	c := proofs.SamplesFor(0.01, 0.99)
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("c=%d/%s", c, sz.name), func(b *testing.B) {
			s := shardForBench(b, sz.size)
			seed := testSeed(1)
			p, err := Prove(seed, c, s.id, s.r, s.size, s.ob)
			if err != nil {
				b.Fatal(err)
			}
			enc, _ := p.MarshalBinary()
			b.ReportAllocs()
			for b.Loop() {
				q, err := UnmarshalProof(enc, c)
				if err != nil {
					b.Fatal(err)
				}
				if err := Verify(s.id, s.size, seed, c, q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(enc)), "proof-B")
		})
	}
}
