package auditproto

import (
	"fmt"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/proofs/merkle"
)

// OutboardBuilder returns a sidecar builder for shardstore.Options: it
// builds a shard's Merkle outboard from the bytes as they are received
// and has it committed with the shard as OutboardSidecar, so that the
// provider never reads the shard back to build it.
func OutboardBuilder() shardstore.SidecarBuilder {
	return &outboardBuilder{w: merkle.NewOutboardWriter()}
}

type outboardBuilder struct{ w *merkle.OutboardWriter }

func (b *outboardBuilder) Write(p []byte) (int, error) { return b.w.Write(p) }

func (b *outboardBuilder) Sidecar(id dsn.ShardID) (string, []byte, error) {
	ob := b.w.Sum()
	if ob.Root() != id {
		// The store verifies the bytes independently; this would mean
		// the builder saw other bytes than the store did.
		return "", nil, fmt.Errorf("outboard of %s has root %s", id.Short(), ob.Root().Short())
	}
	v, err := ob.MarshalBinary()
	if err != nil {
		return "", nil, err
	}
	return OutboardSidecar, v, nil
}
