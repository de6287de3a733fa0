package merkle_test

import (
	"bytes"
	"fmt"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/proofs"
	"github.com/dsn-project/dsn/proofs/merkle"
)

// A provider builds the outboard while receiving a shard, later answers an
// auditor's challenge, and anyone who knows the shard ID checks the answer.
func Example() {
	shard := bytes.Repeat([]byte("dsn shard bytes "), 1<<14) // 256 KiB
	id := dsn.SumShard(shard)

	// Provider, on receipt: one pass beside the hash check.
	w := merkle.NewOutboardWriter()
	w.Write(shard)
	ob := w.Sum()
	fmt.Println("outboard root is the shard id:", ob.Root() == id)

	// Auditor: a fresh nonce mixed with the epoch beacon.
	seed := proofs.MixSeed([32]byte{1, 2, 3}, []byte("epoch 42"))
	c := proofs.SamplesFor(0.01, 0.99)

	// Provider: answer.
	p, err := merkle.Prove(seed, c, id, bytes.NewReader(shard), int64(len(shard)), ob)
	if err != nil {
		fmt.Println(err)
		return
	}
	wire, _ := p.MarshalBinary()

	// Anyone: decode with a bound and verify against the shard id.
	q, err := merkle.UnmarshalProof(wire, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verify:", merkle.Verify(id, int64(len(shard)), seed, c, q))

	// The same answer to the next challenge fails.
	next := proofs.MixSeed([32]byte{4, 5, 6}, []byte("epoch 43"))
	fmt.Println("replay:", merkle.Verify(id, int64(len(shard)), next, c, q) != nil)
	// Output:
	// outboard root is the shard id: true
	// verify: <nil>
	// replay: true
}
