package shardproto

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/inproc"
)

func Example() {
	n := inproc.NewNetwork()
	client, provider := n.Add("client"), n.Add("provider")
	NewServer(newMemStore(), ServerOptions{}).Register(provider)
	ctx := context.Background()

	data := []byte("sixty-four bytes of erasure-coded, sealed shard data, padded....")
	id := dsn.SumShard(data)
	if err := Put(ctx, client, "provider", id, int64(len(data)), bytes.NewReader(data)); err != nil {
		fmt.Println(err)
		return
	}

	rc, size, err := Get(ctx, client, "provider", id, 0, -1)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rc.Close()
	got, err := io.ReadAll(dsn.VerifyReader(id, size, rc))
	fmt.Println(size, bytes.Equal(got, data), err)
	// Output: 64 true <nil>
}
