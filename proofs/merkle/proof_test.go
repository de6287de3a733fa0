package merkle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/proofs"
)

var c99 = proofs.SamplesFor(0.01, 0.99)

func TestHonestProofsVerify(t *testing.T) {
	sizes := []int{1, 1000, 1024, 1025, 5 * 1024, GroupSize, GroupSize + 1, 37*1024 + 11, 1<<20 + 5, 4<<20 + 3}
	for _, size := range sizes {
		s := newShard(t, byte(size), size)
		seeds := 5
		if size > 1<<20 {
			seeds = 1 // a few MiB: one challenge is enough to reach deep paths
		}
		for i := range seeds {
			for _, c := range []int{1, 7, c99} {
				seed := testSeed(i)
				p := s.prove(t, seed, c)
				if err := Verify(s.id, int64(size), seed, c, p); err != nil {
					t.Fatalf("Verify(honest proof, %d bytes, seed %d, c=%d) = %v", size, i, c, err)
				}
				for _, l := range p.Leaves {
					off := int(l.Index) * chunkSize
					if !bytes.Equal(l.Data, s.data[off:min(off+chunkSize, size)]) {
						t.Fatalf("proof leaf %d is not the shard's chunk", l.Index)
					}
				}
			}
		}
	}
}

// Every chunk of shards with awkward chunk counts, each leaf in its own
// proof, so that every path shape is checked against the root.
func TestEveryLeafOfOddShapes(t *testing.T) {
	for _, chunks := range []int{2, 3, 5, 15, 16, 17, 31, 33, 47, 70} {
		size := chunks*chunkSize - 3
		s := newShard(t, byte(chunks), size)
		b := newBuilder(bytes.NewReader(s.data), int64(size), s.ob, true)
		var sides [64]side
		for i := range uint64(Chunks(int64(size))) {
			l, err := b.leaf(i)
			if err != nil {
				t.Fatalf("%d chunks: leaf %d: %v", chunks, i, err)
			}
			if len(l.Path) != len(pathOf(i, uint64(chunks), &sides)) {
				t.Fatalf("%d chunks: leaf %d path has %d siblings", chunks, i, len(l.Path))
			}
			h := chunkCV(l.Data, i, len(l.Path) == 0)
			sd := pathOf(i, uint64(chunks), &sides)
			for d := len(sd) - 1; d >= 0; d-- {
				sib := cvFromBytes(l.Path[len(sd)-1-d][:])
				if sd[d].right {
					h = parentCV(&h, &sib, d == 0)
				} else {
					h = parentCV(&sib, &h, d == 0)
				}
			}
			if dsn.ShardID(h.bytes()) != s.id {
				t.Fatalf("%d chunks: leaf %d does not hash to the shard id", chunks, i)
			}
		}
	}
}

func TestProofIndicesAreTheChallenge(t *testing.T) {
	s := newShard(t, 1, 200*1024)
	seed := testSeed(1)
	p := s.prove(t, seed, c99)
	want := proofs.Sample(seed, s.id[:], 200, c99)
	seen := map[uint64]bool{}
	for _, v := range want {
		seen[v] = true
	}
	if len(p.Leaves) != len(seen) {
		t.Fatalf("proof has %d leaves, sample has %d distinct indices", len(p.Leaves), len(seen))
	}
	for k, l := range p.Leaves {
		if !seen[l.Index] || (k > 0 && l.Index <= p.Leaves[k-1].Index) {
			t.Fatalf("leaf %d is chunk %d: not a sampled index in increasing order", k, l.Index)
		}
	}
}

// zeroed returns a copy of data with bytes [lo, hi) zeroed.
func zeroed(data []byte, lo, hi int) []byte {
	d := bytes.Clone(data)
	clear(d[lo:hi])
	return d
}

// A provider that lost 1% of the shard's bytes is caught by a challenge of
// SamplesFor(0.01, 0.99) samples exactly when a sample lands in the lost
// part, which happens with probability 1-(0.99)^459 ≈ 0.990. The cheater
// here is the strongest one: it kept every chaining value of the tree, so
// all its paths are right, and it lost only the data.
func TestDeletedOnePercentIsDetected(t *testing.T) {
	const chunks, trials = 200, 200
	s := newShard(t, 9, chunks*chunkSize)
	size := int64(len(s.data))
	// Every leaf with its true path, built once.
	table := make([]Leaf, chunks)
	b := newBuilder(bytes.NewReader(s.data), size, s.ob, true)
	for i := range table {
		l, err := b.leaf(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		table[i] = l
	}
	lost := []struct {
		name   string
		lo, hi int
		fill   func([]byte) []byte
	}{
		{"zeroed range", 100, 102, func(d []byte) []byte { return make([]byte, len(d)) }},
		{"missing tail range", 198, 200, func(d []byte) []byte { return nil }},
		{"one bit flipped per lost chunk", 10, 12, func(d []byte) []byte { d = bytes.Clone(d); d[100] ^= 4; return d }},
	}
	for _, r := range lost {
		t.Run(r.name, func(t *testing.T) {
			cheat := slices.Clone(table)
			for i := r.lo; i < r.hi; i++ {
				cheat[i].Data = r.fill(cheat[i].Data)
			}
			failed := 0
			for i := range trials {
				seed := testSeed(1000 + i)
				p := &Proof{Shard: s.id, Size: size, Seed: seed, Samples: c99}
				hit := false
				for _, j := range Indices(seed, s.id, chunks, c99) {
					p.Leaves = append(p.Leaves, cheat[j])
					hit = hit || (int(j) >= r.lo && int(j) < r.hi)
				}
				err := Verify(s.id, size, seed, c99, p)
				if (err != nil) != hit {
					t.Fatalf("seed %d: Verify = %v, but a sample hit the lost range: %v", i, err, hit)
				}
				if err != nil {
					failed++
				}
			}
			// Expected 198 of 200; fewer than 190 has probability about
			// 1e-4 under the formula, and these seeds are fixed.
			if failed < trials*95/100 {
				t.Fatalf("lost 1%%: %d of %d challenges failed, want >= 95%% (formula %.3f)", failed, trials, proofs.Detection(0.01, c99))
			}
			t.Logf("lost 1%%: %d of %d challenges caught (formula %.3f)", failed, trials, proofs.Detection(0.01, c99))
		})
	}
}

// A provider that zeroed 1% of its copy and answers with what it holds,
// taking paths from its honest outboard, fails at least as often.
func TestZeroedOnePercentWithOutboardIsDetected(t *testing.T) {
	const chunks, trials = 200, 50
	s := newShard(t, 9, chunks*chunkSize)
	bad := zeroed(s.data, 100*chunkSize, 102*chunkSize)
	failed := 0
	for i := range trials {
		seed := testSeed(3000 + i)
		p := cheatProof(t, seed, c99, s.id, bad, s.ob)
		if err := Verify(s.id, int64(len(s.data)), seed, c99, p); err != nil {
			failed++
		}
		if _, err := Prove(seed, c99, s.id, bytes.NewReader(bad), int64(len(bad)), s.ob); err == nil {
			// Prove passing means no sample came near the loss.
			if err := Verify(s.id, int64(len(s.data)), seed, c99, p); err != nil {
				t.Fatalf("seed %d: Prove succeeded on the damaged copy, yet its answer fails: %v", i, err)
			}
		}
	}
	if failed < trials*95/100 {
		t.Fatalf("zeroed 1%%: %d of %d challenges failed, want >= 95%%", failed, trials)
	}
}

func TestTamperedProofsFail(t *testing.T) {
	s := newShard(t, 2, 300*1024+17)
	seed := testSeed(2)
	size := int64(len(s.data))
	other := newShard(t, 3, len(s.data))
	tests := []struct {
		name   string
		tamper func(p *Proof) *Proof
		want   error
	}{
		{"flipped bit in a leaf", func(p *Proof) *Proof { p.Leaves[3].Data[17] ^= 0x10; return p }, ErrWrongLeaf},
		{"flipped bit in a sibling", func(p *Proof) *Proof { p.Leaves[0].Path[2][5] ^= 1; return p }, ErrWrongLeaf},
		{"flipped bit in the top sibling", func(p *Proof) *Proof { l := &p.Leaves[1]; l.Path[len(l.Path)-1][0] ^= 1; return p }, ErrWrongLeaf},
		{"leaf dropped", func(p *Proof) *Proof { p.Leaves = p.Leaves[1:]; return p }, ErrWrongIndices},
		{"leaf swapped for another chunk", func(p *Proof) *Proof {
			b := newBuilder(bytes.NewReader(s.data), size, s.ob, true)
			l, _ := b.leaf(p.Leaves[4].Index + 1)
			p.Leaves[4] = l
			return p
		}, ErrWrongIndices},
		{"leaf truncated", func(p *Proof) *Proof { p.Leaves[0].Data = p.Leaves[0].Data[:1000]; return p }, ErrLeafSize},
		{"sibling dropped", func(p *Proof) *Proof { p.Leaves[0].Path = p.Leaves[0].Path[1:]; return p }, ErrBadPath},
		{"leaves of another shard", func(p *Proof) *Proof {
			return cheatProof(t, seed, c99, s.id, other.data, s.ob)
		}, ErrWrongLeaf},
		{"another shard's honest proof", func(p *Proof) *Proof { return other.prove(t, seed, c99) }, ErrWrongChallenge},
		{"another shard's proof relabelled", func(p *Proof) *Proof {
			q := other.prove(t, seed, c99)
			q.Shard = s.id
			return q
		}, ErrWrongIndices},
		{"other size claimed", func(p *Proof) *Proof { p.Size--; return p }, ErrWrongChallenge},
		{"fewer samples claimed", func(p *Proof) *Proof { p.Samples = 5; return p }, ErrWrongChallenge},
	}
	for _, tt := range tests {
		p := tt.tamper(s.prove(t, seed, c99))
		if err := Verify(s.id, size, seed, c99, p); !errors.Is(err, tt.want) {
			t.Errorf("Verify(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// A proof recorded for one challenge does not answer the next one: the new
// seed selects other chunks, and the proof names the seed it answered.
func TestReplayedProofFails(t *testing.T) {
	s := newShard(t, 5, 4<<20)
	size := int64(len(s.data))
	old := s.prove(t, testSeed(10), c99)
	for i := range 20 {
		seed := testSeed(11 + i)
		if err := Verify(s.id, size, seed, c99, old); !errors.Is(err, ErrWrongChallenge) {
			t.Fatalf("Verify(replayed proof, new seed %d) = %v, want ErrWrongChallenge", i, err)
		}
		// Relabelled with the new seed, the leaves are the wrong ones.
		relabelled := *old
		relabelled.Seed = seed
		if err := Verify(s.id, size, seed, c99, &relabelled); !errors.Is(err, ErrWrongIndices) {
			t.Fatalf("Verify(replayed proof relabelled, seed %d) = %v, want ErrWrongIndices", i, err)
		}
	}
}

// In a shard of few chunks, 459 samples select every chunk, so a relabelled
// old proof passes; but then it holds every byte of the shard, and keeping
// it is keeping the shard.
func TestReplayOnTinyShardCarriesTheShard(t *testing.T) {
	s := newShard(t, 5, 64*1024)
	size := int64(len(s.data))
	old := s.prove(t, testSeed(10), c99)
	for i := range 20 {
		relabelled := *old
		relabelled.Seed = testSeed(11 + i)
		if Verify(s.id, size, relabelled.Seed, c99, &relabelled) != nil {
			continue
		}
		var got []byte
		for _, l := range old.Leaves {
			got = append(got, l.Data...)
		}
		if !bytes.Equal(got, s.data) {
			t.Fatalf("a replayed proof passed without holding the whole shard (%d of %d chunks)", len(old.Leaves), Chunks(size))
		}
	}
}

// failingReaderAt fails every read: the provider kept the outboard and
// not the data.
type failingReaderAt struct{}

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errors.New("no such file") }

func TestOutboardWithoutDataCannotProve(t *testing.T) {
	s := newShard(t, 6, 500*1024)
	size := int64(len(s.data))
	seed := testSeed(6)
	if _, err := Prove(seed, c99, s.id, failingReaderAt{}, size, s.ob); err == nil {
		t.Fatal("Prove without the data succeeded")
	}
	// Its best guess, leaves of zeros with honest paths, fails.
	p := cheatProof(t, seed, c99, s.id, make([]byte, size), s.ob)
	if err := Verify(s.id, size, seed, c99, p); !errors.Is(err, ErrWrongLeaf) {
		t.Fatalf("Verify(zero leaves with outboard paths) = %v, want ErrWrongLeaf", err)
	}
}

func TestProveNoticesCorruption(t *testing.T) {
	s := newShard(t, 8, 10*GroupSize+100)
	size := int64(len(s.data))
	seed := testSeed(8)
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
	single := newShard(t, 4, 3000)
	otherOb, _ := BuildOutboard(randomBytes(99, len(s.data)))
	// An outboard whose group is wrong yet consistent with its levels,
	// and a root that matches: only rereading the group can notice.
	badGroups := newOutboard(size, s.id, append([]cv{{1}}, s.ob.levels[0][1:]...))
	tests := []struct {
		name  string
		data  []byte
		ob    *Outboard
		c     int
		want  error
		shard dsn.ShardID
	}{
		{"shard bytes flipped everywhere", bytes.Repeat([]byte{1}, len(s.data)), s.ob, c99, ErrCorrupt, s.id},
		{"outboard of another shard", s.data, otherOb, c99, ErrCorrupt, s.id},
		{"outboard group wrong", s.data, badGroups, c99, ErrCorrupt, s.id},
		{"single-group shard flipped", flip(single.data, 10), single.ob, 1, ErrCorrupt, single.id},
	}
	for _, tt := range tests {
		_, err := Prove(seed, tt.c, tt.shard, bytes.NewReader(tt.data), int64(len(tt.data)), tt.ob)
		if !errors.Is(err, tt.want) {
			t.Errorf("Prove(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
	// A shard shorter than it claims is a read error, not a proof.
	if _, err := Prove(seed, c99, s.id, bytes.NewReader(s.data[:GroupSize]), size, s.ob); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Prove(truncated shard) = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestChallengeBounds(t *testing.T) {
	s := newShard(t, 1, 2048)
	empty, _ := BuildOutboard(nil)
	tests := []struct {
		name string
		size int64
		c    int
		ob   *Outboard
		want error
	}{
		{"empty shard", 0, 5, empty, ErrEmptyShard},
		{"negative size", -1, 5, s.ob, ErrShardSize},
		{"huge size", dsn.MaxShardSize + 1, 5, s.ob, ErrShardSize},
		{"zero samples", 2048, 0, s.ob, ErrSampleCount},
		{"too many samples", 2048, MaxSamples + 1, s.ob, ErrSampleCount},
		{"size differs from outboard", 2047, 5, s.ob, ErrShardSize},
	}
	for _, tt := range tests {
		_, err := Prove(testSeed(0), tt.c, s.id, bytes.NewReader(s.data), tt.size, tt.ob)
		if !errors.Is(err, tt.want) {
			t.Errorf("Prove(%s) = %v, want %v", tt.name, err, tt.want)
		}
		if tt.name == "size differs from outboard" {
			continue
		}
		err = Verify(s.id, tt.size, testSeed(0), tt.c, &Proof{})
		if !errors.Is(err, tt.want) {
			t.Errorf("Verify(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// The wrapped error says which leaf failed.
func TestVerifyErrorNamesLeaf(t *testing.T) {
	s := newShard(t, 2, 64*1024)
	p := s.prove(t, testSeed(3), 20)
	p.Leaves[2].Data[0] ^= 1
	err := Verify(s.id, int64(len(s.data)), testSeed(3), 20, p)
	want := fmt.Sprintf("leaf 2 (chunk %d)", p.Leaves[2].Index)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Fatalf("Verify(flipped leaf 2) = %v, want a message naming %q", err, want)
	}
}
