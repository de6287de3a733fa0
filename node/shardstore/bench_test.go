package shardstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/cputime"
	"github.com/zeebo/blake3"
)

// BenchmarkReceiveShard measures acknowledged receives on the real disk
// (with O_DIRECT where the file system takes it, and through the page cache
// as store-buffered) beside the raw cost of the same bytes written to a plain file with
// f.Write (1 MiB at a time, as the store writes) and f.Sync, the same with
// the store's early writeback, and hashing alone. The store's extra work
// is the hash, a rename, a directory sync and a synced pebble batch; its
// early writeback lets the disk work while it hashes, so store/file can
// come out near or above 1 on file systems with ranged writeback (ext4)
// and a bit below 1 against file-writeback. Removing the shard between
// iterations is not timed.
func BenchmarkReceiveShard(b *testing.B) {
	for _, size := range []int{1 << 20, 32 << 20} {
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{1}).Read(data)
		id := dsn.SumShard(data)
		name := fmt.Sprintf("%dMiB", size>>20)

		for _, mode := range []string{"store", "store-buffered"} {
			b.Run(mode+"/"+name, func(b *testing.B) {
				s, err := Open(b.TempDir(), Options{Logger: quietLogger(), BufferedWrites: mode == "store-buffered"})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				ctx := context.Background()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				defer reportCPU(b, size)()
				for range b.N {
					if err := s.ReceiveShard(ctx, id, int64(size), bytes.NewReader(data)); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := s.RemoveShard(ctx, id); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}

		b.Run("file/"+name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "shard")
			b.SetBytes(int64(size))
			b.ReportAllocs()
			defer reportCPU(b, size)()
			for range b.N {
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < size; off += copyBufSize {
					if _, err := f.Write(data[off:min(off+copyBufSize, size)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.Remove(path)
				b.StartTimer()
			}
		})

		// The same file writes with the store's writeback cadence (SyncTo
		// every writebackEvery bytes), to separate what the writeback buys
		// from what hashing and the index cost.
		b.Run("file-writeback/"+name, func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, "shard")
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for range b.N {
				f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
				if err != nil {
					b.Fatal(err)
				}
				queued := 0
				for off := 0; off < size; off += copyBufSize {
					end := min(off+copyBufSize, size)
					if _, err := f.Write(data[off:end]); err != nil {
						b.Fatal(err)
					}
					if end-queued >= writebackEvery {
						if _, err := f.SyncTo(int64(end)); err != nil {
							b.Fatal(err)
						}
						queued = end
					}
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.Remove(path)
				b.StartTimer()
			}
		})

		b.Run("blake3/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			h := blake3.New()
			for range b.N {
				h.Reset()
				for off := 0; off < size; off += copyBufSize {
					h.Write(data[off:min(off+copyBufSize, size)])
				}
				h.Sum(nil)
			}
		})
	}
}

// reportCPU reports the process's CPU time per byte received, as
// "cpu-ns/B", including the kernel's (and the untimed removals, which are
// small beside a write).
func reportCPU(b *testing.B, size int) func() {
	start := cputime.Process()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cputime.Process()-start)/float64(b.N)/float64(size), "cpu-ns/B")
		}
	}
}

// BenchmarkFetchShard reads a whole shard from the disk ("cold": the
// file's pages dropped before each read, as for a shard written with
// O_DIRECT or received long ago) and from the page cache ("warm": as right
// after a buffered write), through the get server's 256 KiB copy buffer.
func BenchmarkFetchShard(b *testing.B) {
	const size = 32 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{2}).Read(data)
	id := dsn.SumShard(data)
	for _, mode := range []string{"cold", "warm"} {
		b.Run(mode, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if err := s.ReceiveShard(ctx, id, size, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 256<<10)
			b.SetBytes(size)
			b.ReportAllocs()
			defer reportCPU(b, size)()
			for range b.N {
				if mode == "cold" {
					b.StopTimer()
					dropCache(b, s.shardPath(id))
					b.StartTimer()
				}
				rc, _, err := s.FetchShard(ctx, id, 0, -1)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf); err != nil || n != size {
					b.Fatalf("read %d bytes, %v", n, err)
				}
				rc.Close()
			}
		})
	}
}
