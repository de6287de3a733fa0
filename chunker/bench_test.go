package chunker

import (
	"bytes"
	"io"
	"runtime"
	"strconv"
	"testing"

	chunk "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/go-cid"
	"github.com/zeebo/blake3"
)

var benchSizes = []int{1 * MiB, 64 * MiB}

// BenchmarkImport measures Import with the default spec beside the raw
// work it wraps, zeebo BLAKE3 over each 1 MiB chunk of the same bytes, so
// the ratio of the two is the cost of chunking and DAG building.
//
// Besides wall-clock MB/s, each run reports cpuMB/s: bytes per second of
// CPU time of the benchmark's own thread. On a shared, loaded machine the
// wall clock mostly measures the neighbours; thread CPU time does not.
// (Garbage collection runs on other threads and is not counted there, which
// flatters the allocating variants; B/op shows them up.)
func BenchmarkImport(b *testing.B) {
	for _, size := range benchSizes {
		data := randomBytes(9, size)
		name := strconv.Itoa(size/MiB) + "MiB"
		b.Run("raw-blake3/"+name, func(b *testing.B) {
			measure(b, size, func() {
				for off := 0; off < len(data); off += DefaultChunkSize {
					blake3.Sum256(data[off:min(off+DefaultChunkSize, len(data))])
				}
			})
		})
		// The same, but reading the bytes through an io.Reader into a
		// chunk buffer first, as Import must: the copy is part of reading
		// a stream, not overhead of chunking.
		b.Run("raw-read-blake3/"+name, func(b *testing.B) {
			r := bytes.NewReader(data)
			buf := make([]byte, DefaultChunkSize)
			measure(b, size, func() {
				r.Reset(data)
				for {
					n, err := io.ReadFull(r, buf)
					if n > 0 {
						blake3.Sum256(buf[:n])
					}
					if err != nil {
						break
					}
				}
			})
		})
		b.Run("import/"+name, func(b *testing.B) {
			r := bytes.NewReader(data)
			measure(b, size, func() {
				r.Reset(data)
				if _, err := Import(r, DefaultSpec, func([]byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			})
		})
		// boxo's own size splitter (allocating per chunk) under the same
		// importer, to show what the pooled splitter saves.
		b.Run("import-boxo-splitter/"+name, func(b *testing.B) {
			r := bytes.NewReader(data)
			measure(b, size, func() {
				r.Reset(data)
				if _, err := buildDAG(chunk.NewSizeSplitter(r, DefaultChunkSize), NewBuilder(cid.DagProtobuf), LinksPerNode); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("import-buzhash/"+name, func(b *testing.B) {
			r := bytes.NewReader(data)
			measure(b, size, func() {
				r.Reset(data)
				if _, err := Import(r, BuzhashSpec, nil); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// measure runs op in a b.Loop on one locked OS thread and reports its
// throughput by wall clock and by that thread's CPU time.
func measure(b *testing.B, size int, op func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	start := threadCPU()
	for b.Loop() {
		op()
	}
	if cpu := threadCPU() - start; cpu > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/cpu.Seconds()/1e6, "cpuMB/s")
	}
}
