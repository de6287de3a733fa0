package shardstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/dsn-project/dsn"
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
