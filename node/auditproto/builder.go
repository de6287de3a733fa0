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
// provider never reads the shard back to build it. It is a
// shardstore.HashingBuilder: the outboard's root is the shard's BLAKE3
// hash, so the store checks the shard with it rather than hashing every
// byte twice.
func OutboardBuilder() shardstore.SidecarBuilder {
	return &outboardBuilder{w: merkle.NewOutboardWriter()}
}

var _ shardstore.HashingBuilder = (*outboardBuilder)(nil)

type outboardBuilder struct {
	w *merkle.OutboardWriter
	// ob is the outboard of the bytes written so far, kept between Root
	// and Sidecar; a Write clears it.
	ob *merkle.Outboard
}

func (b *outboardBuilder) Write(p []byte) (int, error) {
	b.ob = nil
	return b.w.Write(p)
}

func (b *outboardBuilder) outboard() *merkle.Outboard {
	if b.ob == nil {
		b.ob = b.w.Sum()
	}
	return b.ob
}

// Root is the BLAKE3 hash of the bytes written so far.
func (b *outboardBuilder) Root() dsn.ShardID { return b.outboard().Root() }

func (b *outboardBuilder) Sidecar(id dsn.ShardID) (string, []byte, error) {
	ob := b.outboard()
	if ob.Root() != id {
		// The store checks the bytes against id before it asks; this
		// would mean the builder saw other bytes than the store did.
		return "", nil, fmt.Errorf("outboard of %s has root %s", id.Short(), ob.Root().Short())
	}
	v, err := ob.MarshalBinary()
	if err != nil {
		return "", nil, err
	}
	return OutboardSidecar, v, nil
}
