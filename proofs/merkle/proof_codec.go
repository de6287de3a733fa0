package merkle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/varint"
)

// proofVersion is the first byte of an encoded proof.
const proofVersion = 1

// Errors returned by MarshalBinary and UnmarshalProof.
var (
	// ErrProofFormat is returned for a proof that has no canonical
	// encoding or bytes that are not one: unknown version, truncated,
	// non-canonical varints, values out of range, leaves out of order, or
	// trailing bytes.
	ErrProofFormat = errors.New("malformed proof")
	// ErrProofTooLarge is returned by UnmarshalProof for input longer than
	// MaxProofSize(maxLeaves) or with more than maxLeaves leaves.
	ErrProofTooLarge = errors.New("proof too large")
)

// headerMax is the longest header: version, shard, size, seed, samples,
// leaf count.
const headerMax = 1 + 32 + binary.MaxVarintLen64 + 32 + binary.MaxVarintLen64 + binary.MaxVarintLen64

// MaxProofSize is the longest encoding of a proof with at most maxLeaves
// leaves in a shard of at most dsn.MaxShardSize bytes.
func MaxProofSize(maxLeaves int) int {
	// A proof never has more leaves than samples, which also keeps the
	// product from overflowing.
	return headerMax + min(max(maxLeaves, 0), MaxSamples)*(binary.MaxVarintLen64+chunkSize+32*maxDepth)
}

// MarshalBinary encodes p canonically:
//
//	version byte (1) | shard id (32) | size (uvarint) | seed (32) |
//	samples c (uvarint) | leaf count (uvarint) |
//	per leaf, in increasing chunk order: chunk number (uvarint) |
//	the chunk's bytes | one 32-byte sibling per level, leaf first
//
// A leaf's length and path depth follow from its chunk number and the
// size, so they are not written and cannot disagree. MarshalBinary
// refuses a proof whose leaves do not fit that shape.
func (p *Proof) MarshalBinary() ([]byte, error) {
	if err := checkChallenge(p.Size, p.Samples); err != nil {
		return nil, fmt.Errorf("encode proof: %w: %w", ErrProofFormat, err)
	}
	if len(p.Leaves) == 0 {
		return nil, fmt.Errorf("encode proof: no leaves: %w", ErrProofFormat)
	}
	n := Chunks(p.Size)
	b := make([]byte, 0, headerMax+len(p.Leaves)*(4+chunkSize+32*maxDepth))
	b = append(b, proofVersion)
	b = append(b, p.Shard[:]...)
	b = binary.AppendUvarint(b, uint64(p.Size))
	b = append(b, p.Seed[:]...)
	b = binary.AppendUvarint(b, uint64(p.Samples))
	b = binary.AppendUvarint(b, uint64(len(p.Leaves)))
	var buf [64]side
	for k, l := range p.Leaves {
		if l.Index >= n || (k > 0 && l.Index <= p.Leaves[k-1].Index) {
			return nil, fmt.Errorf("encode proof: leaf %d is chunk %d, want increasing chunk numbers below %d: %w", k, l.Index, n, ErrProofFormat)
		}
		if len(l.Data) != chunkLen(p.Size, l.Index) || len(l.Path) != len(pathOf(l.Index, n, &buf)) {
			return nil, fmt.Errorf("encode proof: leaf %d (chunk %d) has %d bytes and %d siblings, not its chunk's shape: %w", k, l.Index, len(l.Data), len(l.Path), ErrProofFormat)
		}
		b = binary.AppendUvarint(b, l.Index)
		b = append(b, l.Data...)
		for _, h := range l.Path {
			b = append(b, h[:]...)
		}
	}
	return b, nil
}

// UnmarshalProof decodes a proof written by MarshalBinary, accepting at
// most maxLeaves leaves. It rejects input longer than
// MaxProofSize(maxLeaves) before allocating, and every form but the
// canonical one. A decoded proof still has to pass Verify.
func UnmarshalProof(b []byte, maxLeaves int) (*Proof, error) {
	if maxLeaves < 1 || len(b) > MaxProofSize(maxLeaves) {
		return nil, fmt.Errorf("decode proof: %d bytes, limit %d for %d leaves: %w", len(b), MaxProofSize(maxLeaves), maxLeaves, ErrProofTooLarge)
	}
	d := decoder{b: b}
	if v := d.bytes(1); d.err == nil && v[0] != proofVersion {
		return nil, fmt.Errorf("decode proof: version %d, want %d: %w", v[0], proofVersion, ErrProofFormat)
	}
	p := &Proof{}
	copy(p.Shard[:], d.bytes(32))
	size := d.uvarint("size", 1, dsn.MaxShardSize)
	copy(p.Seed[:], d.bytes(32))
	samples := d.uvarint("sample count", 1, MaxSamples)
	n := Chunks(int64(size))
	count := d.uvarint("leaf count", 1, min(n, samples))
	if d.err != nil {
		return nil, fmt.Errorf("decode proof: %w", d.err)
	}
	if count > uint64(maxLeaves) {
		return nil, fmt.Errorf("decode proof: %d leaves, limit %d: %w", count, maxLeaves, ErrProofTooLarge)
	}
	p.Size, p.Samples = int64(size), int(samples)
	// Every leaf takes at least two bytes, so a count the input cannot
	// hold is refused before the slice is made.
	if count > uint64(len(d.b))/2 {
		return nil, fmt.Errorf("decode proof: %d leaves in %d bytes: %w", count, len(d.b), ErrProofFormat)
	}
	p.Leaves = make([]Leaf, count)
	var buf [64]side
	next := uint64(0)
	for k := range p.Leaves {
		i := d.uvarint("chunk number", next, n-1)
		if d.err != nil {
			return nil, fmt.Errorf("decode proof: leaf %d: %w", k, d.err)
		}
		l := &p.Leaves[k]
		l.Index = i
		l.Data = slices.Clone(d.bytes(chunkLen(p.Size, i)))
		depth := len(pathOf(i, n, &buf))
		raw := d.bytes(32 * depth)
		if d.err != nil {
			return nil, fmt.Errorf("decode proof: leaf %d (chunk %d): %w", k, i, d.err)
		}
		l.Path = make([][32]byte, depth)
		for j := range l.Path {
			copy(l.Path[j][:], raw[32*j:])
		}
		next = i + 1
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("decode proof: %d bytes after the last leaf: %w", len(d.b), ErrProofFormat)
	}
	return p, nil
}

// decoder reads fields in order and keeps the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = fmt.Errorf("truncated: want %d bytes, have %d: %w", n, len(d.b), ErrProofFormat)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint(what string, lo, hi uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, k, err := varint.Uvarint(d.b)
	if err != nil {
		d.err = fmt.Errorf("%s: %w: %w", what, ErrProofFormat, err)
		return 0
	}
	if v < lo || v > hi {
		d.err = fmt.Errorf("%s %d not in [%d, %d]: %w", what, v, lo, hi, ErrProofFormat)
		return 0
	}
	d.b = d.b[k:]
	return v
}
