package manifest

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/erasure"
	"github.com/dsn-project/dsn/seal"
	"github.com/ipfs/go-cid"
)

// Version is the manifest format version this package writes and reads.
// Version 1 had no Updater: its files cannot take signed versions, and it
// is refused with ErrVersion.
const Version = 2

// Bounds on manifest fields. They are part of the format: a manifest outside
// them is rejected by every reader.
const (
	// MaxSize bounds an encoded manifest. Each shard costs 33 or 34 bytes:
	// a 1 TiB file in 32 MiB segments at 10+6 takes about 17 MiB, and
	// about 3.8 TiB fit at that geometry; larger files need larger
	// segments.
	MaxSize = 64 << 20
	// MaxFileSize bounds Size (1 PiB), far above what MaxSize can describe,
	// but low enough that no size arithmetic can overflow.
	MaxFileSize = 1 << 50
	// MaxChunkerSize bounds the length of the Chunker spec.
	MaxChunkerSize = 64
	// MinChunkSize and MaxChunkSize bound ChunkSize.
	MinChunkSize = 1 << 10
	MaxChunkSize = 16 << 20
	// MaxSegmentSize bounds SegmentSize.
	MaxSegmentSize = 1 << 30
	// MaxShards bounds K+M, the number of shards of a segment; it is the
	// limit of Reed-Solomon codes over GF(2^8).
	MaxShards = erasure.MaxShards
	// MaxCodedSegment bounds the bytes of all K+M shards of one segment,
	// (K+M) × ShardSize(SegmentSize). A reader holds a few segments in
	// memory at once, so this bound, not the file size, is what a manifest
	// can make a reader allocate. It fits the widest code (256 shards) with
	// one sealed 1 MiB chunk per segment: about 256 MiB.
	MaxCodedSegment = MaxShards * (1<<20 + erasure.ShardAlign)
	// MaxRootSize bounds the binary length of the Root CID.
	MaxRootSize = 128
)

var (
	// ErrFormat is returned by UnmarshalBinary and Open for bytes that are
	// not a well-formed, valid, canonically encoded manifest or envelope;
	// the wrapping error says what was wrong.
	ErrFormat = errors.New("malformed manifest")
	// ErrVersion is returned for a manifest or envelope whose version this
	// package does not know.
	ErrVersion = errors.New("unknown manifest version")
	// ErrInvalid is returned by Validate (and so by MarshalBinary, Seal and
	// Public) for a manifest that breaks a rule; the wrapping error names
	// the field.
	ErrInvalid = errors.New("invalid manifest")
)

// Manifest describes one stored file.
type Manifest struct {
	// Size is the plaintext file size in bytes.
	Size int64
	// Chunker is the chunker spec the Root CID was computed with, such as
	// "size-1048576" or "buzhash": printable ASCII, 1 to MaxChunkerSize
	// bytes.
	Chunker string
	// ChunkSize is the number of plaintext bytes per sealed chunk; the last
	// chunk may be shorter. MinChunkSize to MaxChunkSize.
	ChunkSize int64
	// SegmentSize is the number of stored bytes per segment; the last
	// segment may be shorter. It is a multiple of the stored chunk size
	// (ChunkSize+seal.Overhead when sealed, ChunkSize when public), so no
	// chunk straddles two segments, and at most MaxSegmentSize.
	SegmentSize int64
	// K data shards and M parity shards per segment: 1 <= K, 0 <= M,
	// K+M <= MaxShards.
	K, M int
	// Root is the plaintext file's root CID (CIDv1).
	Root cid.Cid
	// Cipher seals the chunks; seal.None for a public file.
	Cipher seal.Cipher
	// FileID is bound into every sealed chunk. It is zero exactly when the
	// file is public.
	FileID seal.FileID
	// Updater is the Ed25519 public key that signs the file's new manifest
	// versions (VersionRecord): seal.ManifestKey.UpdaterKey of the file's
	// repair capability. It is never zero.
	Updater [ed25519.PublicKeySize]byte
	// Segments lists the segments of the stored stream, in order:
	// exactly erasure.Segments(StoredSize(), SegmentSize) of them.
	Segments []Segment
}

// Segment lists the shards of one segment: exactly K+M, the K data shards
// first, in shard order.
type Segment struct {
	Shards []Shard
}

// Shard says what one shard is and who holds it.
type Shard struct {
	ID       dsn.ShardID
	Provider dsn.PeerID // 1 to dsn.MaxPeerIDSize bytes
}

// Public reports whether the file's chunks are stored unsealed.
func (m *Manifest) Public() bool { return m.Cipher == seal.None }

// Chunks returns the number of sealed chunks: 0 for an empty file.
func (m *Manifest) Chunks() int64 {
	if m.Size <= 0 || m.ChunkSize <= 0 {
		return 0
	}
	return (m.Size + m.ChunkSize - 1) / m.ChunkSize
}

// StoredChunkSize returns the stored size of a full chunk.
func (m *Manifest) StoredChunkSize() int64 {
	if m.Public() {
		return m.ChunkSize
	}
	return m.ChunkSize + seal.Overhead
}

// StoredSize returns the length of the stream that is cut into segments:
// the file plus one tag per chunk when sealed, the file itself when public.
func (m *Manifest) StoredSize() int64 {
	if m.Public() {
		return m.Size
	}
	return m.Size + m.Chunks()*seal.Overhead
}

// SegmentLen returns the stored length of segment i, 0 when out of range.
func (m *Manifest) SegmentLen(i int) int64 {
	return erasure.SegmentLen(m.StoredSize(), m.SegmentSize, int64(i))
}

// ShardSize returns the size of every shard of segment i, 0 when out of
// range.
func (m *Manifest) ShardSize(i int) int64 {
	return erasure.ShardSize(m.SegmentLen(i), m.K)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// validateHeader checks every field but Segments. The decoder runs it
// before reading the shard lists, so that their counts can be checked
// against consistent geometry before anything is allocated.
func (m *Manifest) validateHeader() error {
	if m.Size < 0 || m.Size > MaxFileSize {
		return invalid("Size %d is outside [0, %d]", m.Size, int64(MaxFileSize))
	}
	if len(m.Chunker) == 0 || len(m.Chunker) > MaxChunkerSize {
		return invalid("Chunker %q has %d bytes, want 1 to %d", m.Chunker, len(m.Chunker), MaxChunkerSize)
	}
	for i := 0; i < len(m.Chunker); i++ {
		if c := m.Chunker[i]; c <= ' ' || c > '~' {
			return invalid("Chunker %q has byte %#02x at %d, want printable ASCII without spaces", m.Chunker, c, i)
		}
	}
	if m.ChunkSize < MinChunkSize || m.ChunkSize > MaxChunkSize {
		return invalid("ChunkSize %d is outside [%d, %d]", m.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	if !m.Cipher.Valid() {
		return invalid("Cipher %s is unknown: %w", m.Cipher, seal.ErrCipher)
	}
	if m.Public() != m.FileID.IsZero() {
		if m.Public() {
			return invalid("FileID %x is set but Cipher is none: a public file has a zero FileID", m.FileID)
		}
		return invalid("FileID is zero but Cipher is %s: a sealed file needs a random FileID", m.Cipher)
	}
	if m.Updater == [ed25519.PublicKeySize]byte{} {
		return invalid("Updater is zero: every manifest names the key that signs its versions")
	}
	if m.SegmentSize <= 0 || m.SegmentSize > MaxSegmentSize {
		return invalid("SegmentSize %d is outside [1, %d]", m.SegmentSize, MaxSegmentSize)
	}
	if sc := m.StoredChunkSize(); m.SegmentSize%sc != 0 {
		return invalid("SegmentSize %d is not a multiple of the stored chunk size %d", m.SegmentSize, sc)
	}
	if m.K < 1 || m.K > MaxShards {
		return invalid("K %d is outside [1, %d]", m.K, MaxShards)
	}
	if m.M < 0 || m.K+m.M > MaxShards {
		return invalid("M %d is outside [0, %d] (K+M must be at most %d)", m.M, MaxShards-m.K, MaxShards)
	}
	if coded := int64(m.K+m.M) * erasure.ShardSize(m.SegmentSize, m.K); coded > MaxCodedSegment {
		return invalid("SegmentSize %d coded as %d+%d shards takes %d bytes, more than the %d a reader may be asked to hold", m.SegmentSize, m.K, m.M, coded, MaxCodedSegment)
	}
	if !m.Root.Defined() {
		return invalid("Root is undefined")
	}
	if m.Root.Version() != 1 {
		return invalid("Root %s is CIDv%d, want CIDv1", m.Root, m.Root.Version())
	}
	if n := m.Root.ByteLen(); n > MaxRootSize {
		return invalid("Root is %d bytes long, want at most %d", n, MaxRootSize)
	}
	return nil
}

// SameContent reports whether next describes the same stored file as m: it
// returns nil when every field but the providers of the shards is equal,
// and otherwise an error wrapping ErrInvalid that names the first field
// that differs. A new version of a manifest may move shards to other
// providers; it may not change what is stored.
func (m *Manifest) SameContent(next *Manifest) error {
	switch {
	case m.Size != next.Size:
		return invalid("Size %d, the original says %d", next.Size, m.Size)
	case m.Chunker != next.Chunker:
		return invalid("Chunker %q, the original says %q", next.Chunker, m.Chunker)
	case m.ChunkSize != next.ChunkSize:
		return invalid("ChunkSize %d, the original says %d", next.ChunkSize, m.ChunkSize)
	case m.SegmentSize != next.SegmentSize:
		return invalid("SegmentSize %d, the original says %d", next.SegmentSize, m.SegmentSize)
	case m.K != next.K || m.M != next.M:
		return invalid("K+M %d+%d, the original says %d+%d", next.K, next.M, m.K, m.M)
	case !m.Root.Equals(next.Root):
		return invalid("Root %s, the original says %s", next.Root, m.Root)
	case m.Cipher != next.Cipher:
		return invalid("Cipher %s, the original says %s", next.Cipher, m.Cipher)
	case m.FileID != next.FileID:
		return invalid("FileID %x, the original says %x", next.FileID, m.FileID)
	case m.Updater != next.Updater:
		return invalid("Updater %x, the original says %x", next.Updater, m.Updater)
	case len(m.Segments) != len(next.Segments):
		return invalid("Segments has %d entries, the original %d", len(next.Segments), len(m.Segments))
	}
	for i, s := range m.Segments {
		ns := next.Segments[i].Shards
		if len(ns) != len(s.Shards) {
			return invalid("Segments[%d].Shards has %d entries, the original %d", i, len(ns), len(s.Shards))
		}
		for j, sh := range s.Shards {
			if ns[j].ID != sh.ID {
				return invalid("Segments[%d].Shards[%d].ID %s, the original says %s", i, j, ns[j].ID.Short(), sh.ID.Short())
			}
		}
	}
	return nil
}

// Validate reports the first rule m breaks, naming the field, or nil.
func (m *Manifest) Validate() error {
	if err := m.validateHeader(); err != nil {
		return err
	}
	if want := erasure.Segments(m.StoredSize(), m.SegmentSize); int64(len(m.Segments)) != want {
		return invalid("Segments has %d entries, want %d (stored size %d in segments of %d)", len(m.Segments), want, m.StoredSize(), m.SegmentSize)
	}
	n := m.K + m.M
	for i, s := range m.Segments {
		if len(s.Shards) != n {
			return invalid("Segments[%d].Shards has %d entries, want K+M = %d", i, len(s.Shards), n)
		}
		for j, sh := range s.Shards {
			if len(sh.Provider) == 0 || len(sh.Provider) > dsn.MaxPeerIDSize {
				return invalid("Segments[%d].Shards[%d].Provider has %d bytes, want 1 to %d", i, j, len(sh.Provider), dsn.MaxPeerIDSize)
			}
		}
	}
	return nil
}
