package manifest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/erasure"
	"github.com/dsn-project/dsn/internal/varint"
	"github.com/dsn-project/dsn/seal"
	"github.com/ipfs/go-cid"
)

// magic starts every encoded manifest.
const magic = "DSNM"

// minShardEntry is the smallest encoding of one shard: its id and a
// one-byte provider index.
const minShardEntry = dsn.ShardIDSize + 1

// MaxSegments is the most segments a manifest of a k+m code can list:
// each shard takes at least ShardIDSize+1 bytes of the encoding, which is
// at most MaxSize. A store that would cut more can stop at once instead of
// uploading a file whose manifest could not be written.
func MaxSegments(k, m int) int64 { return MaxSize / (int64(k+m) * minShardEntry) }

// MarshalBinary returns the canonical encoding of m (docs/formats.md). It
// fails with an error wrapping ErrInvalid when m is not valid or its encoding
// would exceed MaxSize.
func (m *Manifest) MarshalBinary() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	b, err := m.encode()
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return b, nil
}

// encode writes m, which has been validated.
func (m *Manifest) encode() ([]byte, error) {
	if least := int64(len(m.Segments)) * int64(m.K+m.M) * minShardEntry; least > MaxSize {
		return nil, fmt.Errorf("%w: %d shards need at least %d bytes, more than MaxSize (%d)", ErrInvalid, int64(len(m.Segments))*int64(m.K+m.M), least, MaxSize)
	}
	// Providers are listed once, in order of first use, and shards refer
	// to them by index: a provider usually holds shards of many segments.
	index := make(map[dsn.PeerID]uint64)
	var providers []dsn.PeerID
	for _, s := range m.Segments {
		for _, sh := range s.Shards {
			if _, ok := index[sh.Provider]; !ok {
				index[sh.Provider] = uint64(len(providers))
				providers = append(providers, sh.Provider)
			}
		}
	}
	size := len(magic) + 7*binary.MaxVarintLen64 + len(m.Chunker) + m.Root.ByteLen() + 1 + seal.FileIDSize + len(m.Updater) +
		len(m.Segments)*(m.K+m.M)*(dsn.ShardIDSize+binary.MaxVarintLen64)
	for _, p := range providers {
		size += binary.MaxVarintLen64 + len(p)
	}
	b := make([]byte, 0, min(size, MaxSize+1))
	b = append(b, magic...)
	b = binary.AppendUvarint(b, Version)
	b = binary.AppendUvarint(b, uint64(m.Size))
	b = binary.AppendUvarint(b, uint64(len(m.Chunker)))
	b = append(b, m.Chunker...)
	b = binary.AppendUvarint(b, uint64(m.ChunkSize))
	b = binary.AppendUvarint(b, uint64(m.SegmentSize))
	b = binary.AppendUvarint(b, uint64(m.K))
	b = binary.AppendUvarint(b, uint64(m.M))
	b = binary.AppendUvarint(b, uint64(m.Root.ByteLen()))
	b = append(b, m.Root.Bytes()...)
	b = append(b, byte(m.Cipher))
	b = append(b, m.FileID[:]...)
	b = append(b, m.Updater[:]...)
	b = binary.AppendUvarint(b, uint64(len(providers)))
	for _, p := range providers {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Segments)))
	for _, s := range m.Segments {
		for _, sh := range s.Shards {
			b = append(b, sh.ID[:]...)
			b = binary.AppendUvarint(b, index[sh.Provider])
			if len(b) > MaxSize {
				return nil, fmt.Errorf("%w: encoding exceeds MaxSize (%d bytes)", ErrInvalid, MaxSize)
			}
		}
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: encoding is %d bytes, more than MaxSize (%d)", ErrInvalid, len(b), MaxSize)
	}
	return b, nil
}

// decoder reads fields from an encoded manifest, remembering the first
// error so that the field reads can be written one after another.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at byte %d", fmt.Sprintf(format, args...), d.off)
	}
}

// uvarint reads a minimally encoded unsigned varint no larger than max.
func (d *decoder) uvarint(field string, max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n, err := varint.Uvarint(d.b[d.off:])
	if err != nil {
		d.fail("%s: %v", field, err)
		return 0
	}
	if v > max {
		d.fail("%s: %d exceeds %d", field, v, max)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) bytes(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.fail("%s: want %d bytes, have %d", field, n, len(d.b)-d.off)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

// UnmarshalBinary decodes a manifest written by MarshalBinary. It accepts
// only the canonical encoding of a valid manifest with no trailing bytes,
// and allocates no more than a small multiple of len(b). Errors wrap
// ErrFormat, or ErrVersion for an unknown version.
func (m *Manifest) UnmarshalBinary(b []byte) error {
	dm, err := decode(b)
	if err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	*m = *dm
	return nil
}

func decode(b []byte) (*Manifest, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than MaxSize (%d)", ErrFormat, len(b), MaxSize)
	}
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: missing magic %q", ErrFormat, magic)
	}
	d := &decoder{b: b, off: len(magic)}
	if v := d.uvarint("version", math.MaxUint64); d.err == nil && v != Version {
		if v == 1 {
			return nil, fmt.Errorf("version 1, written before manifests named an updater key (this build reads %d; store the file again): %w", Version, ErrVersion)
		}
		return nil, fmt.Errorf("version %d (this build reads %d): %w", v, Version, ErrVersion)
	}
	m := new(Manifest)
	m.Size = int64(d.uvarint("Size", MaxFileSize))
	m.Chunker = string(d.bytes("Chunker", int(d.uvarint("Chunker length", MaxChunkerSize))))
	m.ChunkSize = int64(d.uvarint("ChunkSize", MaxChunkSize))
	m.SegmentSize = int64(d.uvarint("SegmentSize", MaxSegmentSize))
	m.K = int(d.uvarint("K", MaxShards))
	m.M = int(d.uvarint("M", MaxShards))
	if root := d.bytes("Root", int(d.uvarint("Root length", MaxRootSize))); d.err == nil {
		c, err := cid.Cast(root)
		if err != nil {
			d.fail("Root: %v", err)
		}
		m.Root = c
	}
	if c := d.bytes("Cipher", 1); d.err == nil {
		m.Cipher = seal.Cipher(c[0])
	}
	copy(m.FileID[:], d.bytes("FileID", seal.FileIDSize))
	copy(m.Updater[:], d.bytes("Updater", len(m.Updater)))
	if d.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, d.err)
	}
	if err := m.validateHeader(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}

	// Every provider takes at least two bytes in the table and is used by
	// at least one shard entry, so a count larger than what is left allows
	// is a lie; checking it first bounds the allocation.
	np := d.uvarint("provider count", uint64(d.remaining()/(2+minShardEntry)))
	providers := make([]dsn.PeerID, 0, np)
	for i := range np {
		p := d.bytes(fmt.Sprintf("provider %d", i), int(d.uvarint(fmt.Sprintf("provider %d length", i), dsn.MaxPeerIDSize)))
		if d.err == nil && len(p) == 0 {
			d.fail("provider %d: empty", i)
		}
		providers = append(providers, dsn.PeerID(p))
	}
	width := m.K + m.M
	want := erasure.Segments(m.StoredSize(), m.SegmentSize)
	ns := d.uvarint("segment count", uint64(want))
	if d.err == nil && int64(ns) != want {
		d.fail("segment count %d, want %d (stored size %d in segments of %d)", ns, want, m.StoredSize(), m.SegmentSize)
	}
	if d.err == nil && int64(ns)*int64(width) > int64(d.remaining()/minShardEntry) {
		d.fail("%d segments of %d shards need at least %d bytes, have %d", ns, width, int64(ns)*int64(width)*minShardEntry, d.remaining())
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, d.err)
	}
	shards := make([]Shard, int(ns)*width)
	m.Segments = make([]Segment, ns)
	used := uint64(0) // providers must appear in order of first use
	for i := range m.Segments {
		seg := shards[i*width : (i+1)*width : (i+1)*width]
		for j := range seg {
			copy(seg[j].ID[:], d.bytes("shard id", dsn.ShardIDSize))
			pi := d.uvarint("provider index", used)
			if d.err != nil {
				return nil, fmt.Errorf("%w: segment %d shard %d: %w", ErrFormat, i, j, d.err)
			}
			if pi == used {
				if used == np {
					return nil, fmt.Errorf("%w: segment %d shard %d: provider index %d, but there are %d providers", ErrFormat, i, j, pi, np)
				}
				used++
			}
			seg[j].Provider = providers[pi]
		}
		m.Segments[i].Shards = seg
	}
	if used != np {
		return nil, fmt.Errorf("%w: %d providers listed, %d used", ErrFormat, np, used)
	}
	if d.remaining() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after the last shard", ErrFormat, d.remaining())
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	// The rules above should leave one encoding per manifest; comparing
	// with a fresh encoding makes sure of it.
	again, err := m.encode()
	if err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: not the canonical encoding", ErrFormat)
	}
	return m, nil
}
