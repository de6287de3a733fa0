package compact

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"filippo.io/edwards25519"
	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/proofs"
	"github.com/zeebo/blake3"
)

// c459 is the sample count for detecting 1% missing with 99% probability.
var c459 = proofs.SamplesFor(0.01, 0.99)

func testKey(n byte) *Key {
	var secret [32]byte
	secret[0] = n
	return NewKey(secret)
}

func testSeed(n int) proofs.Seed {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	return proofs.Seed(blake3.Sum256(b[:]))
}

// shard is a stored shard as its provider holds it.
type shard struct {
	id   dsn.ShardID
	data []byte
	tags []byte
}

func (s shard) target() Target { return Target{ID: s.id, Size: int64(len(s.data))} }

func newShard(t testing.TB, k *Key, rng *rand.Rand, size int) shard {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	id := dsn.SumShard(data)
	tags, err := k.Tags(id, data)
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	return shard{id: id, data: data, tags: tags}
}

// prove answers ch honestly from shards (in target order).
func prove(t testing.TB, ch *Challenge, shards []shard) *Proof {
	t.Helper()
	p := NewProver(ch)
	for i, s := range shards {
		if err := p.Add(i, bytes.NewReader(s.data), bytes.NewReader(s.tags)); err != nil {
			t.Fatalf("Add(%d): %v", i, err)
		}
	}
	pr, err := p.Proof()
	if err != nil {
		t.Fatalf("Proof: %v", err)
	}
	return pr
}

func targets(shards []shard) []Target {
	var ts []Target
	for _, s := range shards {
		ts = append(ts, s.target())
	}
	return ts
}

func mustChallenge(t testing.TB, seed proofs.Seed, c int, ts []Target) *Challenge {
	t.Helper()
	ch, err := NewChallenge(seed, c, ts)
	if err != nil {
		t.Fatalf("NewChallenge: %v", err)
	}
	return ch
}

// refTag is the definition of a tag computed with the library's arithmetic
// only: PRF(id, i) + sum_j alpha_j*m_ij over the zero-padded block.
func refTag(t testing.TB, k *Key, id dsn.ShardID, i int, data []byte) *edwards25519.Scalar {
	var block [BlockSize]byte
	if off := i * BlockSize; off < len(data) {
		copy(block[:], data[off:])
	}
	h, _ := blake3.NewKeyed(k.prf[:])
	h.Write(id[:])
	var ib [8]byte
	binary.LittleEndian.PutUint64(ib[:], uint64(i))
	h.Write(ib[:])
	var out [64]byte
	h.Digest().Read(out[:])
	s, _ := new(edwards25519.Scalar).SetUniformBytes(out[:])
	for j := 0; j < Sectors; j++ {
		s.MultiplyAdd(&k.alpha[j], sectorScalar(t, block[j*SectorSize:(j+1)*SectorSize]), s)
	}
	return s
}

func TestNewKeyDeterministic(t *testing.T) {
	a, b, c := testKey(1), testKey(1), testKey(2)
	if a.prf != b.prf || a.alphaLimbs != b.alphaLimbs {
		t.Errorf("NewKey of one secret gave two keys")
	}
	if a.prf == c.prf || a.alphaLimbs[0] == c.alphaLimbs[0] {
		t.Errorf("NewKey of two secrets gave the same key material")
	}
}

func TestTagsMatchDefinition(t *testing.T) {
	k := testKey(1)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, size := range []int{1, SectorSize, BlockSize - 1, BlockSize, BlockSize + 1, 3*BlockSize + 17} {
		s := newShard(t, k, rng, size)
		tags, err := DecodeTags(s.tags, int64(size))
		if err != nil {
			t.Fatalf("DecodeTags(size %d): %v", size, err)
		}
		if int64(len(tags)) != Blocks(int64(size)) {
			t.Fatalf("size %d: %d tags, want %d", size, len(tags), Blocks(int64(size)))
		}
		for i := range tags {
			if want := refTag(t, k, s.id, i, s.data); tags[i].Equal(want) != 1 {
				t.Errorf("size %d: tag %d = %x, want %x", size, i, tags[i].Bytes(), want.Bytes())
			}
		}
	}
}

// Feeding a shard in pieces of any size gives the same tags as one write.
func TestTaggerStreaming(t *testing.T) {
	k := testKey(1)
	rng := rand.New(rand.NewPCG(9, 10))
	s := newShard(t, k, rng, 5*BlockSize+1234)
	for _, piece := range []int{1, 30, BlockSize - 1, BlockSize, BlockSize + 7, 3 * BlockSize} {
		var out bytes.Buffer
		tg := k.NewTagger(s.id, &out)
		for p := s.data; len(p) > 0; {
			n := min(piece, len(p))
			if w, err := tg.Write(p[:n]); w != n || err != nil {
				t.Fatalf("Write = %d, %v", w, err)
			}
			p = p[n:]
		}
		if err := tg.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if !bytes.Equal(out.Bytes(), s.tags) {
			t.Errorf("pieces of %d: tags differ from one-shot tags", piece)
		}
		if tg.Size() != int64(len(s.data)) {
			t.Errorf("Size() = %d, want %d", tg.Size(), len(s.data))
		}
		if _, err := tg.Write([]byte{1}); err == nil {
			t.Errorf("Write after Close succeeded")
		}
	}
}

func TestTaggerEmptyShard(t *testing.T) {
	got, err := testKey(1).Tags(dsn.SumShard(nil), nil)
	if err != nil || !bytes.Equal(got, []byte{TagsVersion}) {
		t.Errorf("Tags(empty) = %x, %v, want %x", got, err, []byte{TagsVersion})
	}
}

type failWriter struct{}

var errDisk = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDisk }

func TestTaggerWriterError(t *testing.T) {
	tg := testKey(1).NewTagger(dsn.ShardID{}, failWriter{})
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		_, err = tg.Write(make([]byte, BlockSize))
	}
	if err == nil {
		err = tg.Close()
	}
	if !errors.Is(err, errDisk) {
		t.Errorf("tagging into a failing writer: %v, want %v", err, errDisk)
	}
}

func TestNewChallengeRejects(t *testing.T) {
	ok := Target{ID: dsn.ShardID{1}, Size: 100}
	tests := []struct {
		name    string
		c       int
		targets []Target
	}{
		{"no targets", 10, nil},
		{"c zero", 0, []Target{ok}},
		{"c too large", MaxSamples + 1, []Target{ok}},
		{"empty shard", 10, []Target{{ID: dsn.ShardID{2}, Size: 0}}},
		{"negative size", 10, []Target{{ID: dsn.ShardID{2}, Size: -1}}},
		{"oversize shard", 10, []Target{{ID: dsn.ShardID{2}, Size: dsn.MaxShardSize + 1}}},
		{"duplicate", 10, []Target{ok, ok}},
		{"too many picks", MaxPicks/2 + 1, []Target{ok, {ID: dsn.ShardID{2}, Size: 1}}},
	}
	for _, tc := range tests {
		if _, err := NewChallenge(testSeed(1), tc.c, tc.targets); !errors.Is(err, ErrChallenge) {
			t.Errorf("%s: NewChallenge = %v, want %v", tc.name, err, ErrChallenge)
		}
	}
}

func TestChallengeDeterministic(t *testing.T) {
	ts := []Target{{ID: dsn.ShardID{1}, Size: 1 << 30}, {ID: dsn.ShardID{2}, Size: 1 << 30}}
	a := mustChallenge(t, testSeed(1), c459, ts)
	b := mustChallenge(t, testSeed(1), c459, ts)
	other := mustChallenge(t, testSeed(2), c459, ts)
	for i := range ts {
		if !equalPicks(a.picks[i], b.picks[i]) {
			t.Errorf("target %d: one seed gave two challenges", i)
		}
		if equalPicks(a.picks[i], other.picks[i]) {
			t.Errorf("target %d: two seeds gave one challenge", i)
		}
	}
	if equalPicks(a.picks[0], a.picks[1]) {
		t.Errorf("two shards got the same blocks and coefficients")
	}
	blocks := a.Blocks(0)
	for i := 1; i < len(blocks); i++ {
		if blocks[i] <= blocks[i-1] {
			t.Fatalf("Blocks(0) not strictly ascending at %d: %d, %d", i, blocks[i-1], blocks[i])
		}
	}
	if n := Blocks(1 << 30); blocks[len(blocks)-1] >= uint64(n) {
		t.Errorf("Blocks(0) has index %d past %d blocks", blocks[len(blocks)-1], n)
	}
}

func equalPicks(a, b []pick) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Honest proofs pass for many seeds and for shard sizes that are and are not
// multiples of the block size, down to one byte.
func TestHonestProofsVerify(t *testing.T) {
	k := testKey(1)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, size := range []int{1, 2, SectorSize + 1, BlockSize, BlockSize + 1, 7*BlockSize - 3} {
		s := newShard(t, k, rng, size)
		for seed := 0; seed < 20; seed++ {
			ch := mustChallenge(t, testSeed(seed), 64, []Target{s.target()})
			pr := prove(t, ch, []shard{s})
			dec, err := DecodeProof(pr.Encode())
			if err != nil {
				t.Fatalf("DecodeProof(Encode()): %v", err)
			}
			if err := k.Verify(ch, dec); err != nil {
				t.Errorf("size %d, seed %d: Verify(honest proof) = %v, want nil", size, seed, err)
			}
		}
	}
}

// One proof answers for many shards of one owner, each challenged c times.
func TestAggregatedProofVerifies(t *testing.T) {
	k := testKey(1)
	rng := rand.New(rand.NewPCG(13, 14))
	var shards []shard
	for i := 0; i < 24; i++ {
		shards = append(shards, newShard(t, k, rng, 1+rng.IntN(20*BlockSize)))
	}
	for seed := 0; seed < 5; seed++ {
		ch := mustChallenge(t, testSeed(seed), c459, targets(shards))
		pr := prove(t, ch, shards)
		if got := len(pr.Encode()); got != ProofSize {
			t.Errorf("aggregated proof is %d bytes, want %d", got, ProofSize)
		}
		if err := k.Verify(ch, pr); err != nil {
			t.Errorf("seed %d: Verify(aggregated honest proof) = %v, want nil", seed, err)
		}
		// Leaving out one shard's contribution is caught.
		p := NewProver(ch)
		for i, s := range shards[:len(shards)-1] {
			p.Add(i, bytes.NewReader(s.data), bytes.NewReader(s.tags))
		}
		if _, err := p.Proof(); err == nil {
			t.Errorf("Proof() with a shard not added succeeded")
		}
	}
}

// deletedReader serves a shard whose provider lost some blocks and fills
// them with zeros, the best it can do without the data.
type deletedReader struct {
	data    []byte
	deleted map[int64]bool
}

func (r deletedReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(r.data).ReadAt(p, off)
	end := off + int64(n)
	for b := off / BlockSize; b*BlockSize < end; b++ {
		if r.deleted[b] {
			lo, hi := max(b*BlockSize, off), min((b+1)*BlockSize, end)
			clear(p[lo-off : hi-off])
		}
	}
	return n, err
}

// A provider that lost 1% of a shard's blocks fails a c = 459 challenge with
// probability 1-0.99^459 > 99%; it must fail in at least 95% of 200 seeds
// (40 under the race detector), and exactly when a lost block was
// challenged.
func TestDeletedBlocksDetected(t *testing.T) {
	k := testKey(1)
	rng := rand.New(rand.NewPCG(15, 16))
	const nblocks = 200
	s := newShard(t, k, rng, nblocks*BlockSize-100)
	deleted := map[int64]bool{}
	for len(deleted) < nblocks/100 {
		deleted[int64(rng.IntN(nblocks))] = true
	}
	cheat := deletedReader{data: s.data, deleted: deleted}
	seeds := 200
	if raceEnabled {
		seeds = 40
	}
	failed := 0
	for seed := 0; seed < seeds; seed++ {
		ch := mustChallenge(t, testSeed(seed), c459, []Target{s.target()})
		hit := false
		for _, b := range ch.Blocks(0) {
			hit = hit || deleted[int64(b)]
		}
		p := NewProver(ch)
		if err := p.Add(0, cheat, bytes.NewReader(s.tags)); err != nil {
			t.Fatalf("Add: %v", err)
		}
		pr, err := p.Proof()
		if err != nil {
			t.Fatalf("Proof: %v", err)
		}
		err = k.Verify(ch, pr)
		if err != nil {
			failed++
		}
		if hit != (err != nil) {
			t.Errorf("seed %d: lost block challenged %v, Verify = %v", seed, hit, err)
		}
	}
	if failed < seeds*95/100 {
		t.Errorf("provider missing 1%% of blocks failed %d of %d challenges, want >= 95%%", failed, seeds)
	}
	t.Logf("provider missing 1%% of blocks failed %d of %d challenges", failed, seeds)
}

// Any flipped bit in a challenged block makes the proof fail.
func TestFlippedBitDetected(t *testing.T) {
	k := testKey(1)
	rng := rand.New(rand.NewPCG(17, 18))
	s := newShard(t, k, rng, 5*BlockSize+100)
	ch := mustChallenge(t, testSeed(1), 16, []Target{s.target()})
	blocks := ch.Blocks(0)
	for _, b := range blocks {
		last := min(int64(b+1)*BlockSize, int64(len(s.data))) - 1
		for _, pos := range []int64{int64(b) * BlockSize, int64(b)*BlockSize + SectorSize - 1, last} {
			for _, bit := range []byte{0x01, 0x80} {
				bad := bytes.Clone(s.data)
				bad[pos] ^= bit
				p := NewProver(ch)
				if err := p.Add(0, bytes.NewReader(bad), bytes.NewReader(s.tags)); err != nil {
					t.Fatalf("Add: %v", err)
				}
				pr, _ := p.Proof()
				if err := k.Verify(ch, pr); !errors.Is(err, ErrInvalidProof) {
					t.Errorf("bit %#x of byte %d flipped: Verify = %v, want %v", bit, pos, err, ErrInvalidProof)
				}
			}
		}
	}
}

// A provider that holds shard B cannot answer for shard A with B's data,
// B's tags, or both.
func TestOtherShardDetected(t *testing.T) {
	k := testKey(1)
	rng := rand.New(rand.NewPCG(19, 20))
	a := newShard(t, k, rng, 4*BlockSize)
	b := newShard(t, k, rng, 4*BlockSize)
	for seed := 0; seed < 10; seed++ {
		ch := mustChallenge(t, testSeed(seed), 8, []Target{a.target()})
		for _, tc := range []struct {
			name       string
			data, tags []byte
		}{
			{"B's data and tags", b.data, b.tags},
			{"B's data, A's tags", b.data, a.tags},
			{"A's data, B's tags", a.data, b.tags},
		} {
			p := NewProver(ch)
			if err := p.Add(0, bytes.NewReader(tc.data), bytes.NewReader(tc.tags)); err != nil {
				t.Fatalf("Add: %v", err)
			}
			pr, _ := p.Proof()
			if err := k.Verify(ch, pr); !errors.Is(err, ErrInvalidProof) {
				t.Errorf("seed %d, %s for A: Verify = %v, want %v", seed, tc.name, err, ErrInvalidProof)
			}
		}
	}
}

// A proof for one seed does not answer another.
func TestReplayDetected(t *testing.T) {
	k := testKey(1)
	rng := rand.New(rand.NewPCG(21, 22))
	s := newShard(t, k, rng, 3*BlockSize+5)
	old := prove(t, mustChallenge(t, testSeed(1), c459, []Target{s.target()}), []shard{s})
	for seed := 2; seed < 12; seed++ {
		ch := mustChallenge(t, testSeed(seed), c459, []Target{s.target()})
		if err := k.Verify(ch, old); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("proof for seed 1 replayed for seed %d: Verify = %v, want %v", seed, err, ErrInvalidProof)
		}
	}
}

// Tags made under one key give proofs that another key rejects, both ways.
func TestUnrelatedKeyDetected(t *testing.T) {
	k1, k2 := testKey(1), testKey(2)
	rng := rand.New(rand.NewPCG(23, 24))
	data := newShard(t, k1, rng, 2*BlockSize+9)
	other := data
	other.tags, _ = k2.Tags(data.id, data.data)
	ch := mustChallenge(t, testSeed(1), 32, []Target{data.target()})
	if err := k1.Verify(ch, prove(t, ch, []shard{other})); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("proof from another key's tags: Verify = %v, want %v", err, ErrInvalidProof)
	}
	if err := k2.Verify(ch, prove(t, ch, []shard{data})); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("proof checked under an unrelated key: Verify = %v, want %v", err, ErrInvalidProof)
	}
}

// Flipping any one mu or sigma of an honest proof makes it fail.
func TestTamperedProofDetected(t *testing.T) {
	k := testKey(1)
	rng := rand.New(rand.NewPCG(25, 26))
	s := newShard(t, k, rng, 2*BlockSize)
	ch := mustChallenge(t, testSeed(1), 8, []Target{s.target()})
	enc := prove(t, ch, []shard{s}).Encode()
	for _, off := range []int{1, 1 + ScalarSize, ProofSize - ScalarSize} {
		bad := bytes.Clone(enc)
		bad[off] ^= 1
		pr, err := DecodeProof(bad)
		if err != nil {
			t.Fatalf("DecodeProof: %v", err)
		}
		if err := k.Verify(ch, pr); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("byte %d changed: Verify = %v, want %v", off, err, ErrInvalidProof)
		}
	}
}

func TestDecodeProofRejects(t *testing.T) {
	good := make([]byte, ProofSize)
	good[0] = ProofVersion
	if _, err := DecodeProof(good); err != nil {
		t.Fatalf("DecodeProof(zero proof) = %v, want nil", err)
	}
	nonCanonical := func(scalar int) []byte {
		b := bytes.Clone(good)
		lb := make([]byte, ScalarSize)
		orderL.FillBytes(lb)
		for i := 0; i < ScalarSize; i++ {
			b[1+scalar*ScalarSize+i] = lb[ScalarSize-1-i] // l itself, little-endian
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:ProofSize-1]},
		{"long", append(bytes.Clone(good), 0)},
		{"version 0", append([]byte{0}, good[1:]...)},
		{"version 2", append([]byte{2}, good[1:]...)},
		{"sigma = l", nonCanonical(0)},
		{"mu_1 = l", nonCanonical(1)},
		{"mu_s = l", nonCanonical(Sectors)},
		{"mu_s all ones", append(bytes.Clone(good[:ProofSize-ScalarSize]), bytes.Repeat([]byte{0xff}, ScalarSize)...)},
	}
	for _, tc := range tests {
		if p, err := DecodeProof(tc.b); !errors.Is(err, ErrMalformedProof) {
			t.Errorf("DecodeProof(%s) = %v, %v, want %v", tc.name, p, err, ErrMalformedProof)
		}
	}
}

func TestDecodeTagsRejects(t *testing.T) {
	k := testKey(1)
	s := newShard(t, k, rand.New(rand.NewPCG(27, 28)), BlockSize+1)
	size := int64(len(s.data))
	if _, err := DecodeTags(s.tags, size); err != nil {
		t.Fatalf("DecodeTags(good) = %v", err)
	}
	tests := []struct {
		name string
		b    []byte
		size int64
	}{
		{"empty", nil, size},
		{"short", s.tags[:len(s.tags)-1], size},
		{"long", append(bytes.Clone(s.tags), 0), size},
		{"wrong size", s.tags, size + BlockSize},
		{"negative size", s.tags, -1},
		{"version 2", append([]byte{2}, s.tags[1:]...), size},
		{"non-canonical tag", append(bytes.Clone(s.tags[:1+ScalarSize]), bytes.Repeat([]byte{0xff}, ScalarSize)...), size},
	}
	for _, tc := range tests {
		if _, err := DecodeTags(tc.b, tc.size); !errors.Is(err, ErrMalformedTags) {
			t.Errorf("DecodeTags(%s) = %v, want %v", tc.name, err, ErrMalformedTags)
		}
	}
}

func TestProverRejectsBadInputs(t *testing.T) {
	k := testKey(1)
	s := newShard(t, k, rand.New(rand.NewPCG(29, 30)), 3*BlockSize+1)
	ch := mustChallenge(t, testSeed(1), 32, []Target{s.target()})
	badTag := bytes.Clone(s.tags)
	for _, b := range ch.Blocks(0)[:1] {
		copy(badTag[tagOffset(b):], bytes.Repeat([]byte{0xff}, ScalarSize))
	}
	tests := []struct {
		name       string
		data, tags []byte
		want       error
	}{
		{"truncated data", s.data[:BlockSize/2], s.tags, ErrShardData},
		{"no tags", s.data, nil, ErrShardData},
		{"truncated tags", s.data, s.tags[:1+ScalarSize], ErrShardData},
		{"tags version 9", s.data, append([]byte{9}, s.tags[1:]...), ErrMalformedTags},
		{"non-canonical tag", s.data, badTag, ErrMalformedTags},
	}
	for _, tc := range tests {
		p := NewProver(ch)
		err := p.Add(0, bytes.NewReader(tc.data), bytes.NewReader(tc.tags))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Add = %v, want %v", tc.name, err, tc.want)
		}
		if _, err2 := p.Proof(); err2 == nil {
			t.Errorf("%s: Proof after a failed Add succeeded", tc.name)
		}
	}
	p := NewProver(ch)
	if err := p.Add(0, bytes.NewReader(s.data), bytes.NewReader(s.tags)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := p.Add(0, bytes.NewReader(s.data), bytes.NewReader(s.tags)); err == nil {
		t.Errorf("Add of the same target twice succeeded")
	}
	if err := p.Add(1, bytes.NewReader(s.data), bytes.NewReader(s.tags)); err == nil {
		t.Errorf("Add of target 1 of 1 succeeded")
	}
}

var _ io.ReaderAt = deletedReader{}

// Tagging allocates nothing per block, so a store pipeline's garbage does
// not grow with the shard.
func TestTaggerAllocs(t *testing.T) {
	k := testKey(1)
	block := make([]byte, 16*BlockSize)
	tg := k.NewTagger(dsn.ShardID{}, io.Discard)
	allocs := testing.AllocsPerRun(20, func() { tg.Write(block) })
	if allocs != 0 {
		t.Errorf("Tagger.Write of 16 blocks: %v allocations, want 0", allocs)
	}
}

// A block drawn several times carries the sum of its draws' coefficients,
// recomputed here from the definition: indices from proofs.Sample, 128-bit
// coefficients from their own keyed stream.
func TestChallengeMergesRepeats(t *testing.T) {
	for _, size := range []int64{1, 3 * BlockSize, 1 << 30} {
		id := dsn.ShardID{byte(size)}
		seed := testSeed(3)
		ch := mustChallenge(t, seed, c459, []Target{{ID: id, Size: size}})
		idx := proofs.Sample(seed, id[:], uint64(Blocks(size)), c459)
		h := blake3.NewDeriveKey(coefContext)
		h.Write(seed[:])
		h.Write(id[:])
		xof := h.Digest()
		want := map[uint64]*big.Int{}
		for _, b := range idx {
			var raw [16]byte
			xof.Read(raw[:])
			slices.Reverse(raw[:])
			if want[b] == nil {
				want[b] = new(big.Int)
			}
			want[b].Add(want[b], new(big.Int).SetBytes(raw[:]))
		}
		if len(ch.picks[0]) != len(want) {
			t.Fatalf("size %d: %d distinct blocks, want %d", size, len(ch.picks[0]), len(want))
		}
		for _, p := range ch.picks[0] {
			got := new(big.Int)
			for i := 2; i >= 0; i-- {
				got.Lsh(got, 64)
				got.Or(got, new(big.Int).SetUint64(p.nu[i]))
			}
			if want[p.block] == nil || got.Cmp(want[p.block]) != 0 {
				t.Errorf("size %d: block %d has coefficient %v, want %v", size, p.block, got, want[p.block])
			}
		}
	}
}
