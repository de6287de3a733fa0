package merkle

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/proofs"
)

// randomBytes returns n bytes from a ChaCha8 stream with a fixed seed.
func randomBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = seed
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// testSeed is the challenge seed number i, as an auditor would mix it.
func testSeed(i int) proofs.Seed {
	var r [32]byte
	r[0], r[1] = byte(i), byte(i>>8)
	return proofs.MixSeed(r, []byte("test beacon"))
}

// shardFixture is a shard held by an honest provider.
type shardFixture struct {
	data []byte
	id   dsn.ShardID
	ob   *Outboard
}

func newShard(t testing.TB, seed byte, size int) shardFixture {
	t.Helper()
	data := randomBytes(seed, size)
	ob, err := BuildOutboard(data)
	if err != nil {
		t.Fatalf("BuildOutboard(%d bytes): %v", size, err)
	}
	return shardFixture{data: data, id: dsn.SumShard(data), ob: ob}
}

func (s shardFixture) prove(t testing.TB, seed proofs.Seed, c int) *Proof {
	t.Helper()
	p, err := Prove(seed, c, s.id, bytes.NewReader(s.data), int64(len(s.data)), s.ob)
	if err != nil {
		t.Fatalf("Prove(%d bytes, c=%d): %v", len(s.data), c, err)
	}
	return p
}

// cheatProof is the best answer a provider holding data (which may differ
// from the shard) and an honest outboard can give: whatever it holds, with
// paths taken from the outboard, and no check that they fit.
func cheatProof(t testing.TB, seed proofs.Seed, c int, id dsn.ShardID, data []byte, ob *Outboard) *Proof {
	t.Helper()
	size := int64(len(data))
	p := &Proof{Shard: id, Size: size, Seed: seed, Samples: c}
	b := newBuilder(bytes.NewReader(data), size, ob, false)
	for _, i := range Indices(seed, id, Chunks(size), c) {
		l, err := b.leaf(i)
		if err != nil {
			t.Fatalf("cheat leaf %d: %v", i, err)
		}
		p.Leaves = append(p.Leaves, l)
	}
	return p
}
