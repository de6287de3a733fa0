package auditproto_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/node/inproc"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/proofs"
	"github.com/dsn-project/dsn/proofs/compact"
)

// A provider serves challenges from its store; its owner hands it compact
// tags and audits with its key; anyone audits with Merkle proofs.
func Example() {
	ctx := context.Background()
	net := inproc.NewNetwork()
	provider, owner, anyone := net.Add("provider"), net.Add("owner"), net.Add("anyone")

	store, err := shardstore.Open("/provider", shardstore.Options{FS: vfs.NewMem()})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	auditproto.NewServer(store, auditproto.ServerOptions{}).Register(provider)

	shard := bytes.Repeat([]byte("erasure-coded bytes "), 10_000)
	id, size := dsn.SumShard(shard), int64(len(shard))
	if err := store.ReceiveShard(ctx, id, size, bytes.NewReader(shard)); err != nil {
		log.Fatal(err)
	}

	key := compact.NewKey([32]byte{1}) // from the owner's secret
	tags, _ := key.Tags(id, shard)
	if err := auditproto.PutTags(ctx, owner, "provider", id, tags); err != nil {
		log.Fatal(err)
	}

	seed := proofs.MixSeed([32]byte{2}, []byte("epoch 1"))
	c := proofs.SamplesFor(0.01, 0.99)
	r := auditproto.AuditMerkle(ctx, anyone, "provider", id, size, seed, c)
	fmt.Println("merkle:", r.Outcome)

	ch, _ := compact.NewChallenge(seed, c, []compact.Target{{ID: id, Size: size}})
	r = auditproto.AuditCompact(ctx, owner, "provider", key, ch)
	fmt.Println("compact:", r.Outcome, r.ProofBytes, "bytes")
	r = auditproto.AuditCompact(ctx, anyone, "provider", key, ch)
	fmt.Println("compact by another peer:", r.Outcome)
	// Output:
	// merkle: Pass
	// compact: Pass 6433 bytes
	// compact by another peer: Fail
}
