package memstore_test

import (
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/shardstore/memstore"
	"github.com/dsn-project/dsn/node/shardstore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dsn.ShardStore { return memstore.New(storetest.Capacity) })
}

func TestConformanceUnlimited(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dsn.ShardStore { return memstore.New(0) })
}
