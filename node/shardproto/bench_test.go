package shardproto

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/inproc"
)

// benchStore verifies what it receives and keeps nothing, and serves one
// shard from memory, so that the benchmark measures the protocol and the
// hash, not a store.
type benchStore struct {
	data []byte
	buf  []byte
}

func (s *benchStore) ReceiveShard(ctx context.Context, id dsn.ShardID, size int64, r io.Reader) error {
	_, err := io.CopyBuffer(io.Discard, dsn.VerifyReader(id, size, r), s.buf)
	return err
}

func (s *benchStore) FetchShard(ctx context.Context, id dsn.ShardID, off, length int64) (io.ReadCloser, int64, error) {
	if length < 0 {
		length = int64(len(s.data)) - off
	}
	return io.NopCloser(bytes.NewReader(s.data[off : off+length])), int64(len(s.data)), nil
}

const rawProto = "/dsn/bench/raw/1.0.0"

// BenchmarkTransfer compares a shard Put and Get with the raw copy of the
// same bytes through one inproc stream, and with hashing them.
//
//	go test -run XXX -bench Transfer -count 5 ./node/shardproto/
func BenchmarkTransfer(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		data, id := shard(1, size)
		n := inproc.NewNetwork()
		client := n.Add("client")
		provider := n.Add("provider")
		NewServer(&benchStore{data: data, buf: make([]byte, copyBufSize)}, ServerOptions{}).Register(provider)
		provider.SetStreamHandler(rawProto, func(s dsn.Stream) {
			bp := copyBufs.Get().(*[]byte)
			_, _ = io.CopyBuffer(io.Discard, struct{ io.Reader }{s}, *bp)
			copyBufs.Put(bp)
			_ = s.Close()
		})
		ctx := context.Background()
		name := fmt.Sprintf("%dMiB", size>>20)
		run := func(what string, f func(b *testing.B)) {
			b.Run(name+"/"+what, func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					f(b)
				}
			})
		}
		buf := make([]byte, copyBufSize)
		run("raw-copy", func(b *testing.B) {
			s, err := client.NewStream(ctx, "provider", rawProto)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(s, bytes.NewReader(data), buf); err != nil {
				b.Fatal(err)
			}
			_ = s.CloseWrite()
			if _, err := io.ReadAll(s); err != nil {
				b.Fatal(err)
			}
			_ = s.Close()
		})
		run("blake3", func(b *testing.B) { blake3.Sum256(data) })
		run("put", func(b *testing.B) {
			if err := Put(ctx, client, "provider", id, int64(size), bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		})
		run("get", func(b *testing.B) {
			rc, _, err := Get(ctx, client, "provider", id, 0, -1)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		})
		run("get-verify", func(b *testing.B) {
			rc, size, err := Get(ctx, client, "provider", id, 0, -1)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, dsn.VerifyReader(id, size, rc), buf); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		})
	}
}
