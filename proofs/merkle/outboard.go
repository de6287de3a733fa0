package merkle

import (
	"errors"
	"fmt"

	"github.com/dsn-project/dsn"
	"lukechampine.com/blake3/guts"
)

// GroupChunks is how many 1 KiB chunks one outboard entry covers: the
// outboard keeps the chaining value of every aligned 16-chunk subtree
// (a "group", 16 KiB) and nothing below it, so it holds 32 bytes per
// 16 KiB of shard (1/512, about 0.2%) and a prover reads 16 KiB per
// challenged leaf to rebuild the bottom of a path.
const GroupChunks = 16

// GroupSize is the number of shard bytes one outboard entry covers.
const GroupSize = GroupChunks * chunkSize

// outboardVersion is the first byte of an encoded outboard.
const outboardVersion = 1

// MaxOutboardSize bounds an encoded outboard: the one of a shard of
// dsn.MaxShardSize bytes.
const MaxOutboardSize = 1 + 10 + 32 + 32*((dsn.MaxShardSize+GroupSize-1)/GroupSize)

// ErrOutboardTooLarge is returned by OutboardWriter.Write when the bytes
// written would exceed dsn.MaxShardSize, and by UnmarshalOutboard for an
// encoding longer than MaxOutboardSize or a size above dsn.MaxShardSize.
var ErrOutboardTooLarge = errors.New("outboard: shard larger than the maximum shard size")

// Outboard is the part of a shard's BLAKE3 tree a prover keeps beside the
// shard so that answering a challenge reads only the challenged groups
// rather than rehashing the shard. It is built once, when the shard
// arrives, with an OutboardWriter. An Outboard is immutable and safe for
// concurrent use.
//
// Nothing a verifier does depends on an outboard: a wrong one only makes
// the prover's own answers fail, which Prove notices and reports.
type Outboard struct {
	size int64
	root dsn.ShardID
	// levels[0] holds the chaining value of each group; levels[k+1][j] is
	// the parent of levels[k][2j] and levels[k][2j+1], or levels[k][2j]
	// itself when that has no right neighbour. Pairing with the odd node
	// carried up is the same tree as BLAKE3's "left subtree is the largest
	// power of two" rule, so levels[k][j] is the chaining value of the
	// subtree over groups [j<<k, min((j+1)<<k, groups)).
	levels [][]cv
}

// Size is the length of the shard the outboard describes.
func (o *Outboard) Size() int64 { return o.size }

// Root is the BLAKE3 hash of the shard the outboard was built from, which
// is its ShardID. A provider should check it against the ID it stores the
// shard under.
func (o *Outboard) Root() dsn.ShardID { return o.root }

// newOutboard builds the levels above the group chaining values.
func newOutboard(size int64, root dsn.ShardID, groups []cv) *Outboard {
	o := &Outboard{size: size, root: root, levels: [][]cv{groups}}
	for lv := groups; len(lv) > 1; {
		up := make([]cv, (len(lv)+1)/2)
		for j := range up {
			if 2*j+1 < len(lv) {
				up[j] = parentCV(&lv[2*j], &lv[2*j+1], false)
			} else {
				up[j] = lv[2*j]
			}
		}
		o.levels = append(o.levels, up)
		lv = up
	}
	return o
}

// groupsRoot is the root hash over two or more groups, from the level below
// the top, whose two nodes are the root's children.
func (o *Outboard) groupsRoot() cv {
	below := o.levels[len(o.levels)-2]
	return parentCV(&below[0], &below[1], true)
}

// rangeCV is the chaining value of the subtree over groups [first,
// first+count), which must be a subtree of the tree.
func (o *Outboard) rangeCV(first, count uint64) cv {
	k := 0
	for uint64(1)<<k < count {
		k++
	}
	return o.levels[k][first>>k]
}

// OutboardWriter builds an Outboard from a shard's bytes as they stream
// in. It is an io.Writer so it can sit beside the hash check in an
// io.MultiWriter. Groups are hashed with lukechampine.com/blake3/guts, the
// one Go BLAKE3 library that exposes compression with a chosen chunk
// counter and without the ROOT flag, which a subtree's chaining value
// needs; it uses AVX-512 or AVX2 where the CPU has them. zeebo/blake3 only
// ever finalises a whole input as a root, so it cannot produce these.
type OutboardWriter struct {
	buf    [GroupSize]byte
	n      int // bytes in buf
	total  int64
	groups []cv
}

// NewOutboardWriter returns a writer for one shard.
func NewOutboardWriter() *OutboardWriter { return &OutboardWriter{} }

// Write hashes p. It fails, writing nothing, with ErrOutboardTooLarge if
// the shard would exceed dsn.MaxShardSize.
func (w *OutboardWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > dsn.MaxShardSize-w.total {
		return 0, fmt.Errorf("outboard write of %d bytes after %d: %w", len(p), w.total, ErrOutboardTooLarge)
	}
	w.total += int64(len(p))
	written := len(p)
	// A full group is hashed only once a later byte shows it is not the
	// last: a shard of exactly one group has a root computed differently.
	if w.n > 0 {
		k := copy(w.buf[w.n:], p)
		w.n += k
		p = p[k:]
		if len(p) == 0 {
			return written, nil
		}
		w.addGroup(&w.buf)
		w.n = 0
	}
	for len(p) > GroupSize {
		w.addGroup((*[GroupSize]byte)(p))
		p = p[GroupSize:]
	}
	w.n = copy(w.buf[:], p)
	return written, nil
}

func (w *OutboardWriter) addGroup(g *[GroupSize]byte) {
	counter := uint64(len(w.groups)) * GroupChunks
	w.groups = append(w.groups, cv(guts.ChainingValue(guts.CompressBuffer(g, GroupSize, &guts.IV, counter, 0))))
}

// Sum returns the outboard of the bytes written so far. It does not change
// the writer's state.
func (w *OutboardWriter) Sum() *Outboard {
	last := w.buf[:w.n]
	if len(w.groups) == 0 {
		// At most one group: the root comes from its chunks, not its
		// chaining value.
		root := dsn.ShardID(subtreeCV(last, 0, true).bytes())
		var groups []cv
		if w.n > 0 {
			groups = []cv{subtreeCV(last, 0, false)}
		}
		return newOutboard(w.total, root, groups)
	}
	groups := append(w.groups[:len(w.groups):len(w.groups)], cv{})
	var padded [GroupSize]byte
	copy(padded[:], last)
	counter := uint64(len(w.groups)) * GroupChunks
	groups[len(groups)-1] = cv(guts.ChainingValue(guts.CompressBuffer(&padded, w.n, &guts.IV, counter, 0)))
	o := newOutboard(w.total, dsn.ShardID{}, groups)
	o.root = dsn.ShardID(o.groupsRoot().bytes())
	return o
}

// BuildOutboard returns the outboard of a shard held in memory.
func BuildOutboard(shard []byte) (*Outboard, error) {
	w := NewOutboardWriter()
	if _, err := w.Write(shard); err != nil {
		return nil, err
	}
	return w.Sum(), nil
}

// groupCount is the number of groups of a shard of size bytes.
func groupCount(size int64) uint64 {
	return (uint64(size) + GroupSize - 1) / GroupSize
}
