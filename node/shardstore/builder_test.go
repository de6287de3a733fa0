package shardstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/zeebo/blake3"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/shardstore/storetest"
)

// lengthBuilder keeps the number of bytes it saw as its sidecar.
type lengthBuilder struct{ n int }

func (b *lengthBuilder) Write(p []byte) (int, error) { b.n += len(p); return len(p), nil }
func (b *lengthBuilder) Sidecar(dsn.ShardID) (string, []byte, error) {
	return "length", fmt.Appendf(nil, "%d", b.n), nil
}

func TestSidecarBuilders(t *testing.T) {
	ctx := context.Background()
	built := 0
	s, err := Open("/store", Options{FS: vfs.NewMem(), Logger: quietLogger(), Sidecars: func(dsn.ShardID, int64) []SidecarBuilder {
		built++
		return []SidecarBuilder{&lengthBuilder{}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shard := randShard(1, 3<<20+5)
	id := mustPut(t, s, shard)
	if got, err := s.Sidecar(ctx, id, "length"); err != nil || string(got) != fmt.Sprint(len(shard)) {
		t.Fatalf("sidecar built while receiving = %q, %v; want %d", got, err, len(shard))
	}
	// Bytes that do not hash to the ID are refused, and nothing built
	// from them is kept.
	bad := randShard(2, 1000)
	badID := dsn.SumShard(randShard(3, 1000))
	if err := s.ReceiveShard(ctx, badID, 1000, bytes.NewReader(bad)); !errors.Is(err, dsn.ErrCorruptShard) {
		t.Fatalf("ReceiveShard of wrong bytes = %v, want ErrCorruptShard", err)
	}
	if _, err := s.Sidecar(ctx, badID, "length"); !errors.Is(err, dsn.ErrShardNotFound) {
		t.Errorf("sidecar of a refused shard: %v, want ErrShardNotFound", err)
	}
	// A shard already held is not read again, nor rebuilt.
	before := built
	mustPut(t, s, shard)
	if built != before {
		t.Errorf("builders made for a shard already held")
	}
}

// hashingBuilder hashes what it is fed, as a Merkle outboard builder does
// on its way to the root, and counts the calls to Root.
type hashingBuilder struct {
	h     *blake3.Hasher
	roots *atomic.Int64
}

func newHashingBuilder(roots *atomic.Int64) *hashingBuilder {
	return &hashingBuilder{h: blake3.New(), roots: roots}
}

func (b *hashingBuilder) Write(p []byte) (int, error) { return b.h.Write(p) }
func (b *hashingBuilder) Sidecar(dsn.ShardID) (string, []byte, error) {
	return "hash", b.h.Sum(nil), nil
}
func (b *hashingBuilder) Root() dsn.ShardID {
	b.roots.Add(1)
	var id dsn.ShardID
	b.h.Sum(id[:0])
	return id
}

func TestConformanceHashingBuilder(t *testing.T) {
	var roots atomic.Int64
	storetest.Run(t, func(t *testing.T) dsn.ShardStore {
		s, err := Open("/store", Options{FS: vfs.NewMem(), Capacity: storetest.Capacity, Logger: quietLogger(), Sidecars: func(dsn.ShardID, int64) []SidecarBuilder {
			return []SidecarBuilder{&lengthBuilder{}, newHashingBuilder(&roots)}
		}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	if roots.Load() == 0 {
		t.Errorf("the store never asked the hashing builder for its root")
	}
}

// With a HashingBuilder, the store's check is the same as without one:
// exactly size bytes that hash to the ID, or the same errors.
func TestHashingBuilderChecks(t *testing.T) {
	ctx := context.Background()
	var roots atomic.Int64
	s, err := Open("/store", Options{FS: vfs.NewMem(), Logger: quietLogger(), Sidecars: func(dsn.ShardID, int64) []SidecarBuilder {
		return []SidecarBuilder{newHashingBuilder(&roots)}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := randShard(4, 2<<20+3)
	goodID := dsn.SumShard(good)
	for _, tc := range []struct {
		name string
		id   dsn.ShardID
		size int64
		r    io.Reader
		want error
	}{
		{"wrong bytes", dsn.SumShard(randShard(5, 1000)), 1000, bytes.NewReader(randShard(6, 1000)), dsn.ErrCorruptShard},
		{"one byte changed", goodID, int64(len(good)), bytes.NewReader(flipLast(good)), dsn.ErrCorruptShard},
		{"short", goodID, int64(len(good)), bytes.NewReader(good[:len(good)-1]), dsn.ErrShardSize},
		{"short by a whole buffer", goodID, int64(len(good)), bytes.NewReader(good[:1<<20]), dsn.ErrShardSize},
		{"read error", goodID, int64(len(good)), io.MultiReader(bytes.NewReader(good[:100]), iotest.ErrReader(errBroken)), errBroken},
		{"longer source", goodID, int64(len(good)), bytes.NewReader(append(append([]byte(nil), good...), 1, 2, 3)), nil},
		{"empty", dsn.SumShard(nil), 0, bytes.NewReader(nil), nil},
		{"one byte", dsn.SumShard([]byte{9}), 1, iotest.OneByteReader(bytes.NewReader([]byte{9})), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.ReceiveShard(ctx, tc.id, tc.size, tc.r)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("ReceiveShard(%s) = %v, want %v", tc.name, err, tc.want)
			}
			_, serr := s.StatShard(ctx, tc.id)
			if held := serr == nil; held != (tc.want == nil) {
				t.Fatalf("after ReceiveShard(%s): StatShard = %v, want held = %v", tc.name, serr, tc.want == nil)
			}
		})
	}
	if roots.Load() == 0 {
		t.Errorf("the store never asked the hashing builder for its root")
	}
}

var errBroken = errors.New("source broken")

func flipLast(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[len(c)-1] ^= 1
	return c
}
