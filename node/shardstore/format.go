package shardstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/varint"
)

// ErrCorruptIndex is returned when an index entry or the usage record read
// from pebble cannot be decoded. Open rebuilds an undecodable shard entry
// from its file when the file still hashes to its ID, and drops it (and
// logs that) otherwise; at other times the operation fails with this error.
var ErrCorruptIndex = errors.New("corrupt shard index record")

// Pebble keys. Shard entries sort by ShardID under one prefix, so a prefix
// scan enumerates shards in ID order; the usage record lives outside it.
const (
	shardKeyPrefix = 's'
	shardKeyLen    = 1 + dsn.ShardIDSize
)

var usageKey = []byte("m/usage")

func shardKey(id dsn.ShardID) []byte {
	k := make([]byte, shardKeyLen)
	k[0] = shardKeyPrefix
	copy(k[1:], id[:])
	return k
}

// Bounds of a prefix scan over shard entries: [s, t).
var (
	shardKeyLower = []byte{shardKeyPrefix}
	shardKeyUpper = []byte{shardKeyPrefix + 1}
)

func parseShardKey(k []byte) (dsn.ShardID, error) {
	var id dsn.ShardID
	if len(k) != shardKeyLen || k[0] != shardKeyPrefix {
		return id, fmt.Errorf("shard key %x: want %d bytes starting with %q: %w", k, shardKeyLen, shardKeyPrefix, ErrCorruptIndex)
	}
	copy(id[:], k[1:])
	return id, nil
}

// indexVersion1 is the only value encoding so far. The version byte comes
// first so a later layout can be read beside this one.
const indexVersion1 = 1

// indexEntry is the value stored for each held shard.
type indexEntry struct {
	Size int64
	// Received is when the shard was acknowledged, in whole seconds; it lets
	// a later garbage collector or a deal checker reason about age without
	// stat-ing files.
	Received time.Time
}

// maxIndexValueLen bounds an encoded entry: version + two uvarints.
const maxIndexValueLen = 1 + 2*binary.MaxVarintLen64

// encode returns the version 1 form: 0x01, uvarint size, uvarint received
// unix seconds.
func (e indexEntry) encode() []byte {
	b := make([]byte, 0, maxIndexValueLen)
	b = append(b, indexVersion1)
	b = binary.AppendUvarint(b, uint64(e.Size))
	b = binary.AppendUvarint(b, uint64(max(e.Received.Unix(), 0)))
	return b
}

// decodeIndexEntry parses a value written by indexEntry.encode. It accepts
// exactly the canonical encoding, so that decode then encode gives back the
// same bytes.
func decodeIndexEntry(b []byte) (indexEntry, error) {
	var e indexEntry
	if len(b) == 0 {
		return e, fmt.Errorf("index entry: empty: %w", ErrCorruptIndex)
	}
	if b[0] != indexVersion1 {
		return e, fmt.Errorf("index entry: unknown version %d: %w", b[0], ErrCorruptIndex)
	}
	rest := b[1:]
	size, rest, err := readUvarint(rest, "size")
	if err != nil {
		return e, fmt.Errorf("index entry: %w", err)
	}
	if size > dsn.MaxShardSize {
		return e, fmt.Errorf("index entry: size %d above limit %d: %w", size, int64(dsn.MaxShardSize), ErrCorruptIndex)
	}
	secs, rest, err := readUvarint(rest, "received time")
	if err != nil {
		return e, fmt.Errorf("index entry: %w", err)
	}
	if secs > maxUnixSeconds {
		return e, fmt.Errorf("index entry: received time %d out of range: %w", secs, ErrCorruptIndex)
	}
	if len(rest) != 0 {
		return e, fmt.Errorf("index entry: %d trailing bytes: %w", len(rest), ErrCorruptIndex)
	}
	e.Size = int64(size)
	e.Received = time.Unix(int64(secs), 0).UTC()
	return e, nil
}

// maxUnixSeconds keeps decoded times well inside time.Time's range (year
// 9999), so no input can produce a time that overflows when re-encoded.
const maxUnixSeconds = 253402300799

// usageVersion1 is the only encoding of the usage record so far.
const usageVersion1 = 1

// usageRecord is the exact accounting kept beside the index, updated in the
// same batch as every entry it counts.
type usageRecord struct {
	Shards int64
	Used   int64
}

// encode returns 0x01, uvarint shard count, uvarint used bytes.
func (u usageRecord) encode() []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64)
	b = append(b, usageVersion1)
	b = binary.AppendUvarint(b, uint64(u.Shards))
	b = binary.AppendUvarint(b, uint64(u.Used))
	return b
}

// decodeUsage parses a value written by usageRecord.encode, canonical form
// only.
func decodeUsage(b []byte) (usageRecord, error) {
	var u usageRecord
	if len(b) == 0 {
		return u, fmt.Errorf("usage record: empty: %w", ErrCorruptIndex)
	}
	if b[0] != usageVersion1 {
		return u, fmt.Errorf("usage record: unknown version %d: %w", b[0], ErrCorruptIndex)
	}
	shards, rest, err := readUvarint(b[1:], "shard count")
	if err != nil {
		return u, fmt.Errorf("usage record: %w", err)
	}
	used, rest, err := readUvarint(rest, "used bytes")
	if err != nil {
		return u, fmt.Errorf("usage record: %w", err)
	}
	// Both must fit in an int64; a shard count above the byte count is
	// impossible only for non-empty shards, so it is not checked.
	if shards > 1<<62 || used > 1<<62 {
		return u, fmt.Errorf("usage record: counts %d shards, %d bytes out of range: %w", shards, used, ErrCorruptIndex)
	}
	if len(rest) != 0 {
		return u, fmt.Errorf("usage record: %d trailing bytes: %w", len(rest), ErrCorruptIndex)
	}
	return usageRecord{Shards: int64(shards), Used: int64(used)}, nil
}

// readUvarint reads one canonical (shortest-form) uvarint.
func readUvarint(b []byte, what string) (uint64, []byte, error) {
	v, n, err := varint.Uvarint(b)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %v: %w", what, err, ErrCorruptIndex)
	}
	return v, b[n:], nil
}
