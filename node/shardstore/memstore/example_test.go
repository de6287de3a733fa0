package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/shardstore/memstore"
)

func Example() {
	ctx := context.Background()
	s := memstore.New(10)
	good := []byte("0123456789")
	fmt.Println(s.ReceiveShard(ctx, dsn.SumShard(good), 10, bytes.NewReader(good)))
	more := []byte("x")
	err := s.ReceiveShard(ctx, dsn.SumShard(more), 1, bytes.NewReader(more))
	fmt.Println(errors.Is(err, dsn.ErrNoSpace))
	// Output:
	// <nil>
	// true
}
