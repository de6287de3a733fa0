package merkle

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/varint"
)

// Errors returned by UnmarshalOutboard.
var (
	// ErrOutboardFormat is returned for an encoding that is not a
	// well-formed outboard: unknown version, truncated, a non-canonical
	// varint, or a length that does not match the stated shard size.
	ErrOutboardFormat = errors.New("malformed outboard")
	// ErrOutboardCorrupt is returned when an outboard's group chaining
	// values do not hash to the root it records.
	ErrOutboardCorrupt = errors.New("outboard does not hash to its root")
)

// MarshalBinary encodes o for storage beside its shard:
//
//	version byte (1) | shard size (uvarint) | root (32 bytes) |
//	one 32-byte chaining value per 16 KiB group, in order
//
// The number of groups follows from the size, so the encoding has no
// count to disagree with it.
func (o *Outboard) MarshalBinary() ([]byte, error) {
	groups := o.levels[0]
	b := make([]byte, 0, 1+binary.MaxVarintLen64+32+32*len(groups))
	b = append(b, outboardVersion)
	b = binary.AppendUvarint(b, uint64(o.size))
	b = append(b, o.root[:]...)
	for i := range groups {
		h := groups[i].bytes()
		b = append(b, h[:]...)
	}
	return b, nil
}

// UnmarshalOutboard decodes an outboard written by MarshalBinary. It checks
// the length against the stated size before allocating, and that the
// groups hash to the recorded root whenever there are two or more of them
// (a single group's chaining value cannot be checked without the shard;
// Prove checks it against the shard's bytes).
func UnmarshalOutboard(b []byte) (*Outboard, error) {
	if len(b) > MaxOutboardSize {
		return nil, fmt.Errorf("outboard of %d bytes, limit %d: %w", len(b), MaxOutboardSize, ErrOutboardTooLarge)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("empty outboard: %w", ErrOutboardFormat)
	}
	if b[0] != outboardVersion {
		return nil, fmt.Errorf("outboard version %d, want %d: %w", b[0], outboardVersion, ErrOutboardFormat)
	}
	size, k, err := varint.Uvarint(b[1:])
	if err != nil {
		return nil, fmt.Errorf("outboard size: %w: %w", ErrOutboardFormat, err)
	}
	if size > dsn.MaxShardSize {
		return nil, fmt.Errorf("outboard for a shard of %d bytes, limit %d: %w", size, int64(dsn.MaxShardSize), ErrOutboardTooLarge)
	}
	rest := b[1+k:]
	g := groupCount(int64(size))
	if want := 32 + 32*g; uint64(len(rest)) != want {
		return nil, fmt.Errorf("outboard for %d bytes has %d bytes after its size, want %d: %w", size, len(rest), want, ErrOutboardFormat)
	}
	root := dsn.ShardID(rest[:32])
	groups := make([]cv, g)
	for i := range groups {
		groups[i] = cvFromBytes(rest[32+32*i:])
	}
	o := newOutboard(int64(size), root, groups)
	switch {
	case size == 0:
		if got := chunkCV(nil, 0, true).bytes(); got != root {
			return nil, fmt.Errorf("outboard of an empty shard records root %s: %w", root.Short(), ErrOutboardCorrupt)
		}
	case g >= 2:
		if got := dsn.ShardID(o.groupsRoot().bytes()); got != root {
			return nil, fmt.Errorf("outboard groups hash to %s, outboard records %s: %w", got.Short(), root.Short(), ErrOutboardCorrupt)
		}
	}
	return o, nil
}
