package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/cputime"
	"github.com/dsn-project/dsn/proofs/compact"
)

// The benchmarks here measure the store and retrieve pipelines in memory.
// "pipeline" is the client alone: chunking, root CID, sealing, erasure
// coding and shard hashing, with shards dropped instead of uploaded.
// "providers" adds the in-process transport and providers that keep shards
// in memory and verify them on receipt, as every provider does; on this
// 2-core machine they compete with the client for the same cores. Raw BLAKE3 over the same
// bytes runs beside them as a yardstick: the store path hashes every byte
// at least 2.5 times (root CID, k+m shard IDs) before the providers hash it
// again.

var benchSizes = []int64{64 << 20, 256 << 20}

func benchNet(b *testing.B) *LocalNetwork {
	l, err := StartLocalNetwork(context.Background(), "", 6, LocalOptions{Memory: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

var benchData []byte

// source returns size bytes of random data, generated once so that the
// generator does not count against the pipeline.
func source(size int64) io.Reader {
	if int64(len(benchData)) < size {
		benchData = make([]byte, size)
		rand.NewChaCha8([32]byte{1}).Read(benchData)
	}
	return bytes.NewReader(benchData[:size])
}

func BenchmarkStore(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%dMiB/raw-blake3", size>>20), func(b *testing.B) {
			buf := make([]byte, 1<<20)
			rand.NewChaCha8([32]byte{1}).Read(buf)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for range size >> 20 {
					blake3.Sum256(buf)
				}
			}
		})
		for _, public := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%dMiB/pipeline/public=%v", size>>20, public), func(b *testing.B) {
				l := benchNet(b)
				// Shards go nowhere: this is the client's pipeline alone
				// (chunk, root CID, seal, erasure-code, hash shards).
				l.Client.put = func(context.Context, dsn.PeerID, dsn.ShardID, []byte) error { return nil }
				source(size)
				b.SetBytes(size)
				b.ReportAllocs()
				defer reportCPU(b, size)()
				for b.Loop() {
					if _, err := l.Client.Store(context.Background(), source(size), StoreOptions{Public: public}); err != nil {
						b.Fatal(err)
					}
				}
			})
			if !public {
				// The same pipeline with compact-proof tagging of every
				// shard, as an owner with a proof key stores: beside the
				// run above, it shows what tags cost the store.
				b.Run(fmt.Sprintf("size=%dMiB/pipeline-tagged/public=false", size>>20), func(b *testing.B) {
					l := benchNet(b)
					l.Client.opts.ProofKey = compact.NewKey([32]byte{1})
					l.Client.put = func(context.Context, dsn.PeerID, dsn.ShardID, []byte) error { return nil }
					l.Client.putTags = func(context.Context, dsn.PeerID, dsn.ShardID, []byte) error { return nil }
					source(size)
					b.SetBytes(size)
					b.ReportAllocs()
					defer reportCPU(b, size)()
					for b.Loop() {
						if _, err := l.Client.Store(context.Background(), source(size), StoreOptions{}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			b.Run(fmt.Sprintf("size=%dMiB/providers/public=%v", size>>20, public), func(b *testing.B) {
				l := benchNet(b)
				source(size) // generate the data before the clock starts
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					res, err := l.Client.Store(context.Background(), source(size), StoreOptions{Public: public})
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					// Providers start empty for every round.
					for _, p := range l.Providers {
						for sh := range p.Store.Shards(context.Background()) {
							p.Store.RemoveShard(context.Background(), sh.ID)
						}
					}
					_ = res
					b.StartTimer()
				}
			})
		}
	}
}

// reportCPU, deferred at the start of a benchmark, reports the process's
// CPU time per byte over its loop: on two cores, where the store's stages
// run in parallel, CPU time rather than wall time says what a byte costs.
func reportCPU(b *testing.B, size int64) func() {
	start := cputime.Process()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cputime.Process()-start)/float64(b.N)/float64(size), "cpu-ns/B")
		}
	}
}

func BenchmarkRetrieve(b *testing.B) {
	for _, size := range benchSizes {
		for _, public := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%dMiB/public=%v", size>>20, public), func(b *testing.B) {
				l := benchNet(b)
				res, err := l.Client.Store(context.Background(), source(size), StoreOptions{Public: public})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := l.Client.Retrieve(context.Background(), res.Reference, io.Discard, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRetrieveDisk retrieves from providers with disk stores, the
// page cache warm: the disk store's read path and the pipeline together.
func BenchmarkRetrieveDisk(b *testing.B) {
	const size = 256 << 20
	l, err := StartLocalNetwork(context.Background(), b.TempDir(), 6, LocalOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	res, err := l.Client.Store(context.Background(), source(size), StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Client.Retrieve(context.Background(), res.Reference, io.Discard, nil); err != nil {
			b.Fatal(err)
		}
	}
}
