package shardstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/shardstore"
)

func Example() {
	ctx := context.Background()
	// vfs.NewMem keeps the example off the disk; use nil (vfs.Default) and a
	// real directory in production.
	s, err := shardstore.Open("/provider/shards", shardstore.Options{FS: vfs.NewMem(), Capacity: 1 << 30})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	shard := []byte("erasure-coded bytes")
	id := dsn.SumShard(shard)
	if err := s.ReceiveShard(ctx, id, int64(len(shard)), bytes.NewReader(shard)); err != nil {
		log.Fatal(err)
	}
	rc, size, err := s.FetchShard(ctx, id, 8, 5)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	part, _ := io.ReadAll(rc)
	u, _ := s.Usage(ctx)
	// A shard is charged what it takes on disk: a whole block, its inode
	// and index entry, room for its sidecars.
	fmt.Printf("%q of %d bytes; %d shard, %d of %d bytes used\n", part, size, u.Shards, u.Used, u.Capacity)
	// Output: "coded" of 19 bytes; 1 shard, 9216 of 1073741824 bytes used
}
