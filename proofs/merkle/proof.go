package merkle

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/proofs"
)

// MaxSamples bounds the sample count c of a challenge. SamplesFor(0.001,
// 0.99) is 4603, so this leaves room for demanding auditors while keeping
// a proof below about 28 MB.
const MaxSamples = 1 << 14

// maxDepth is the depth of the deepest leaf of a shard of dsn.MaxShardSize
// bytes (2^21 chunks), which bounds every path.
const maxDepth = 21

// Errors returned by Prove and Verify. Verify wraps them with the leaf
// (its position in the proof and its chunk number) they concern.
var (
	// ErrEmptyShard is returned for a shard of 0 bytes: it has no leaf to
	// challenge.
	ErrEmptyShard = errors.New("empty shard cannot be challenged")
	// ErrShardSize is returned when a size is negative or above
	// dsn.MaxShardSize, or when the outboard describes another size.
	ErrShardSize = errors.New("shard size out of range")
	// ErrSampleCount is returned when c is not in [1, MaxSamples].
	ErrSampleCount = errors.New("sample count out of range")
	// ErrWrongChallenge is returned by Verify when the proof answers
	// another challenge: another shard, size, seed or sample count.
	ErrWrongChallenge = errors.New("proof answers a different challenge")
	// ErrWrongIndices is returned by Verify when the proof's leaves are not
	// exactly the chunks the seed selects.
	ErrWrongIndices = errors.New("proof leaves are not the challenged chunks")
	// ErrLeafSize is returned by Verify when a leaf's bytes are not as long
	// as its chunk.
	ErrLeafSize = errors.New("leaf has the wrong length")
	// ErrBadPath is returned by Verify when a leaf's path does not have one
	// sibling per level between the leaf and the root.
	ErrBadPath = errors.New("path has the wrong length")
	// ErrWrongLeaf is returned by Verify when a leaf's bytes and path do
	// not hash to the root: the bytes or a sibling are not the shard's.
	ErrWrongLeaf = errors.New("leaf and path do not hash to the shard id")
	// ErrCorrupt is returned by Prove when the shard's bytes, the outboard,
	// or both are not those of the shard named: the proof would fail, so it
	// is not produced. The message names the group that disagrees.
	ErrCorrupt = errors.New("shard or outboard corrupt")
)

// Proof answers one challenge for one shard. It records the challenge it
// answers, so a stored proof is a complete transcript that anyone knowing
// the shard ID can check again.
type Proof struct {
	Shard   dsn.ShardID
	Size    int64
	Seed    proofs.Seed
	Samples int
	// Leaves are the distinct challenged chunks in increasing order.
	Leaves []Leaf
}

// Leaf is one challenged chunk with its path to the root.
type Leaf struct {
	Index uint64 // chunk number
	Data  []byte // the chunk's bytes: 1024, or fewer for the last chunk
	// Path holds the chaining value of the sibling at each level, from the
	// leaf's own sibling up to the root's other child.
	Path [][32]byte
}

// Chunks is the number of 1 KiB leaves of a shard of size bytes.
func Chunks(size int64) uint64 {
	return (uint64(size) + chunkSize - 1) / chunkSize
}

// Indices returns the distinct chunk numbers, in increasing order, that
// seed challenges among the n chunks of shard id with c samples.
func Indices(seed proofs.Seed, id dsn.ShardID, n uint64, c int) []uint64 {
	s := proofs.Sample(seed, id[:], n, c)
	slices.Sort(s)
	return slices.Compact(s)
}

func checkChallenge(size int64, c int) error {
	switch {
	case size == 0:
		return ErrEmptyShard
	case size < 0 || size > dsn.MaxShardSize:
		return fmt.Errorf("size %d not in [1, %d]: %w", size, int64(dsn.MaxShardSize), ErrShardSize)
	case c < 1 || c > MaxSamples:
		return fmt.Errorf("c = %d not in [1, %d]: %w", c, MaxSamples, ErrSampleCount)
	}
	return nil
}

// chunkLen is the length of chunk i of a shard of size bytes.
func chunkLen(size int64, i uint64) int {
	return int(min(chunkSize, uint64(size)-i*chunkSize))
}

// side records, for one level of a path from the top down, whether the
// sibling is the right child, and which chunks it covers.
type side struct {
	right        bool
	first, count uint64
}

// pathOf walks from the root of an n-chunk tree down to chunk i, splitting
// as the spec does, and returns the siblings top-down.
func pathOf(i, n uint64, buf *[64]side) []side {
	s := buf[:0]
	first, count := uint64(0), n
	for count > 1 {
		l := leftChunks(count)
		if i < first+l {
			s = append(s, side{right: true, first: first + l, count: count - l})
			count = l
		} else {
			s = append(s, side{right: false, first: first, count: l})
			first, count = first+l, count-l
		}
	}
	return s
}

// Prove answers the challenge (seed, c) for shard id of size bytes, read
// from shard, using the outboard built when the shard arrived. It reads
// one 16 KiB group per distinct challenged group (at most c), and checks
// every group it reads against the outboard and every path against id, so
// a corrupt shard or outboard gives ErrCorrupt instead of a proof that
// fails. Read errors are returned wrapped.
//
// Prove takes no context: it is pure computation over at most c reads of
// 16 KiB; a caller that must bound the reads' time gives a ReaderAt that
// honours its deadline.
func Prove(seed proofs.Seed, c int, id dsn.ShardID, shard io.ReaderAt, size int64, ob *Outboard) (*Proof, error) {
	if err := checkChallenge(size, c); err != nil {
		return nil, fmt.Errorf("prove shard %s: %w", id.Short(), err)
	}
	if ob.size != size {
		return nil, fmt.Errorf("prove shard %s: outboard describes %d bytes, shard has %d: %w", id.Short(), ob.size, size, ErrShardSize)
	}
	if ob.root != id {
		return nil, fmt.Errorf("prove shard %s: outboard is for shard %s: %w", id.Short(), ob.root.Short(), ErrCorrupt)
	}
	p := &Proof{Shard: id, Size: size, Seed: seed, Samples: c}
	b := newBuilder(shard, size, ob, true)
	for _, i := range Indices(seed, id, Chunks(size), c) {
		leaf, err := b.leaf(i)
		if err != nil {
			return nil, fmt.Errorf("prove shard %s: %w", id.Short(), err)
		}
		p.Leaves = append(p.Leaves, leaf)
	}
	if err := Verify(id, size, seed, c, p); err != nil {
		// The groups matched the outboard, so the outboard's upper levels
		// disagree with id.
		return nil, fmt.Errorf("prove shard %s: own proof fails (%w): %w", id.Short(), err, ErrCorrupt)
	}
	return p, nil
}

// builder produces leaves with their paths, reading and hashing each group
// once.
type builder struct {
	shard io.ReaderAt
	size  int64
	n     uint64
	ob    *Outboard
	check bool // compare each group read with the outboard

	group uint64 // group whose chunks are in cvs, if cvs != nil
	cvs   []cv
	data  []byte
	buf   [GroupSize]byte
	sides [64]side
}

func newBuilder(shard io.ReaderAt, size int64, ob *Outboard, check bool) *builder {
	return &builder{shard: shard, size: size, n: Chunks(size), ob: ob, check: check}
}

// load reads group g and hashes its chunks.
func (b *builder) load(g uint64) error {
	off := int64(g) * GroupSize
	m := min(int64(GroupSize), b.size-off)
	data := b.buf[:m]
	k, err := b.shard.ReadAt(data, off)
	if k < len(data) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read group %d (bytes %d-%d): %w", g, off, off+m, err)
	}
	cvs := make([]cv, 0, GroupChunks)
	for j := 0; j < len(data); j += chunkSize {
		cvs = append(cvs, chunkCV(data[j:min(j+chunkSize, len(data))], g*GroupChunks+uint64(j/chunkSize), false))
	}
	if b.check {
		if got := mergeCVs(cvs); got != b.ob.levels[0][g] {
			return fmt.Errorf("group %d (bytes %d-%d) hashes to %x, outboard says %x: %w", g, off, off+m, got.bytes(), b.ob.levels[0][g].bytes(), ErrCorrupt)
		}
	}
	b.group, b.cvs, b.data = g, cvs, data
	return nil
}

// mergeCVs is the chaining value of the subtree over consecutive chunks
// with chaining values cvs.
func mergeCVs(cvs []cv) cv {
	if len(cvs) == 1 {
		return cvs[0]
	}
	l := leftChunks(uint64(len(cvs)))
	left, right := mergeCVs(cvs[:l]), mergeCVs(cvs[l:])
	return parentCV(&left, &right, false)
}

// leaf returns chunk i with its path.
func (b *builder) leaf(i uint64) (Leaf, error) {
	g := i / GroupChunks
	if b.cvs == nil || b.group != g {
		if err := b.load(g); err != nil {
			return Leaf{}, err
		}
	}
	j := int(i-g*GroupChunks) * chunkSize
	leaf := Leaf{Index: i, Data: slices.Clone(b.data[j:min(j+chunkSize, len(b.data))])}
	sides := pathOf(i, b.n, &b.sides)
	leaf.Path = make([][32]byte, len(sides))
	for k, s := range sides {
		var h cv
		if s.first%GroupChunks == 0 && (s.count%GroupChunks == 0 || s.first+s.count == b.n) {
			// Whole groups: from the outboard.
			h = b.ob.rangeCV(s.first/GroupChunks, (s.count+GroupChunks-1)/GroupChunks)
		} else {
			// Inside the leaf's own group.
			lo := s.first - g*GroupChunks
			h = mergeCVs(b.cvs[lo : lo+s.count])
		}
		leaf.Path[len(sides)-1-k] = h.bytes()
	}
	return leaf, nil
}

// Verify checks that p answers the challenge (seed, c) for the shard whose
// ID is root and whose size is size: that its leaves are exactly the
// chunks the seed selects, and that each leaf with its path hashes to root
// under BLAKE3's tree, with the ROOT flag on the top node. It uses only the
// reference BLAKE3 code in this package and trusts nothing the prover
// computed.
func Verify(root dsn.ShardID, size int64, seed proofs.Seed, c int, p *Proof) error {
	if err := checkChallenge(size, c); err != nil {
		return fmt.Errorf("verify shard %s: %w", root.Short(), err)
	}
	switch {
	case p.Shard != root:
		return fmt.Errorf("verify shard %s: proof is for shard %s: %w", root.Short(), p.Shard.Short(), ErrWrongChallenge)
	case p.Size != size:
		return fmt.Errorf("verify shard %s: proof is for %d bytes, shard has %d: %w", root.Short(), p.Size, size, ErrWrongChallenge)
	case p.Seed != seed:
		return fmt.Errorf("verify shard %s: proof answers seed %x, challenge is %x: %w", root.Short(), p.Seed[:6], seed[:6], ErrWrongChallenge)
	case p.Samples != c:
		return fmt.Errorf("verify shard %s: proof answers %d samples, challenge asks %d: %w", root.Short(), p.Samples, c, ErrWrongChallenge)
	}
	n := Chunks(size)
	want := Indices(seed, root, n, c)
	if len(p.Leaves) != len(want) {
		return fmt.Errorf("verify shard %s: %d leaves, challenge selects %d: %w", root.Short(), len(p.Leaves), len(want), ErrWrongIndices)
	}
	var buf [64]side
	for k := range p.Leaves {
		l := &p.Leaves[k]
		if l.Index != want[k] {
			return fmt.Errorf("verify shard %s: leaf %d is chunk %d, challenge selects chunk %d: %w", root.Short(), k, l.Index, want[k], ErrWrongIndices)
		}
		if wl := chunkLen(size, l.Index); len(l.Data) != wl {
			return fmt.Errorf("verify shard %s: leaf %d (chunk %d) has %d bytes, want %d: %w", root.Short(), k, l.Index, len(l.Data), wl, ErrLeafSize)
		}
		sides := pathOf(l.Index, n, &buf)
		if len(l.Path) != len(sides) {
			return fmt.Errorf("verify shard %s: leaf %d (chunk %d) has %d siblings, want %d: %w", root.Short(), k, l.Index, len(l.Path), len(sides), ErrBadPath)
		}
		h := chunkCV(l.Data, l.Index, len(sides) == 0)
		for d := len(sides) - 1; d >= 0; d-- {
			sib := cvFromBytes(l.Path[len(sides)-1-d][:])
			if sides[d].right {
				h = parentCV(&h, &sib, d == 0)
			} else {
				h = parentCV(&sib, &h, d == 0)
			}
		}
		if got := dsn.ShardID(h.bytes()); got != root {
			return fmt.Errorf("verify shard %s: leaf %d (chunk %d) hashes to %s: %w", root.Short(), k, l.Index, got.Short(), ErrWrongLeaf)
		}
	}
	return nil
}
