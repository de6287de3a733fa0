package shardstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/zeebo/blake3"
)

// BenchmarkReceiveShard measures acknowledged receives on the real disk
// beside the raw cost of the same bytes written to a plain file with
// f.Write (1 MiB at a time, as the store writes) and f.Sync, and beside
// hashing them alone. The store's extra work is the hash, a rename, a
// directory sync and a synced pebble batch, so store/file a little below 1
// is expected. Removing the shard between iterations is not timed.
func BenchmarkReceiveShard(b *testing.B) {
	for _, size := range []int{1 << 20, 32 << 20} {
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{1}).Read(data)
		id := dsn.SumShard(data)
		name := fmt.Sprintf("%dMiB", size>>20)

		b.Run("store/"+name, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
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

		b.Run("file/"+name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "shard")
			b.SetBytes(int64(size))
			b.ReportAllocs()
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
