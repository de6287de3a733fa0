package auditproto

import (
	"math/rand/v2"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/proofs/merkle"
)

// The store checks shards with the builder's Root in place of its own
// hash, so Root must be the ShardID for every size and every way the bytes
// arrive.
func TestOutboardBuilderRoot(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := merkle.GroupSize
	for _, size := range []int{0, 1, 1023, 1024, 1025, g - 1, g, g + 1, 2 * g, 3*g + 17, 1 << 20, 1<<20 + 1, 3<<20 + 5} {
		shard := make([]byte, size)
		for i := range shard {
			shard[i] = byte(rng.Uint32())
		}
		want := dsn.SumShard(shard)
		for _, step := range []int{1 << 20, 4096, 777} {
			b, ok := OutboardBuilder().(shardstore.HashingBuilder)
			if !ok {
				t.Fatal("OutboardBuilder is not a shardstore.HashingBuilder")
			}
			for p := shard; len(p) > 0; p = p[min(step, len(p)):] {
				if _, err := b.Write(p[:min(step, len(p))]); err != nil {
					t.Fatal(err)
				}
			}
			if got := b.Root(); got != want {
				t.Fatalf("Root() of %d bytes written %d at a time = %s, want %s", size, step, got.Short(), want.Short())
			}
			if _, _, err := b.Sidecar(want); err != nil {
				t.Fatalf("Sidecar after Root of %d bytes = %v", size, err)
			}
		}
	}
}

// Root between writes covers what was written so far.
func TestOutboardBuilderRootThenWrite(t *testing.T) {
	shard := make([]byte, 40000)
	for i := range shard {
		shard[i] = byte(i * 13)
	}
	b := OutboardBuilder().(shardstore.HashingBuilder)
	b.Write(shard[:20000])
	if got, want := b.Root(), dsn.SumShard(shard[:20000]); got != want {
		t.Fatalf("Root() after half = %s, want %s", got.Short(), want.Short())
	}
	b.Write(shard[20000:])
	if got, want := b.Root(), dsn.SumShard(shard); got != want {
		t.Fatalf("Root() after all = %s, want %s", got.Short(), want.Short())
	}
}
