package compact_test

import (
	"bytes"
	"fmt"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/proofs"
	"github.com/dsn-project/dsn/proofs/compact"
)

// An owner tags a shard before handing it to a provider; later it challenges
// the provider, which answers from the shard and its tags, and the owner
// checks the answer with nothing but its key.
func Example() {
	// Owner: tag the shard.
	key := compact.NewKey([32]byte{1}) // from the owner's secret
	shard := bytes.Repeat([]byte("some sealed shard bytes "), 1000)
	id := dsn.SumShard(shard)
	tags, err := key.Tags(id, shard)
	if err != nil {
		panic(err)
	}

	// Either side: the challenge for this epoch's seed.
	seed := proofs.MixSeed([32]byte{2}, []byte("epoch 7"))
	c := proofs.SamplesFor(0.01, 0.99)
	ch, err := compact.NewChallenge(seed, c, []compact.Target{{ID: id, Size: int64(len(shard))}})
	if err != nil {
		panic(err)
	}

	// Provider: answer from the stored shard and tags.
	p := compact.NewProver(ch)
	if err := p.Add(0, bytes.NewReader(shard), bytes.NewReader(tags)); err != nil {
		panic(err)
	}
	proof, err := p.Proof()
	if err != nil {
		panic(err)
	}
	wire := proof.Encode()

	// Owner: decode and verify.
	got, err := compact.DecodeProof(wire)
	if err != nil {
		panic(err)
	}
	fmt.Println("c =", c, "proof bytes =", len(wire), "tag bytes =", len(tags))
	fmt.Println("verify:", key.Verify(ch, got))
	// Output:
	// c = 459 proof bytes = 6433 tag bytes = 129
	// verify: <nil>
}
