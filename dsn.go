package dsn

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/mr-tron/base58"
	"github.com/zeebo/blake3"
)

// ShardIDSize is the length in bytes of a ShardID.
const ShardIDSize = 32

// MaxShardSize bounds the size of one shard anywhere in the system: on the
// wire, on disk and in a manifest. Segments are tens of MiB, so this leaves
// room for wide segments with small k without letting a peer claim absurd
// sizes.
const MaxShardSize = 1 << 31

// ShardID names a shard by the BLAKE3-256 hash of its bytes. Because a BLAKE3
// hash is the root of a Merkle tree over 1 KiB leaves, the same value later
// serves as the commitment that storage proofs are checked against.
type ShardID [ShardIDSize]byte

// SumShard returns the ShardID of b.
func SumShard(b []byte) ShardID { return ShardID(blake3.Sum256(b)) }

// String returns the lower-case hex form of id.
func (id ShardID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hex digits of id, for humans.
func (id ShardID) Short() string { return id.String()[:12] }

// ParseShardID parses the hex form produced by ShardID.String.
func ParseShardID(s string) (ShardID, error) {
	var id ShardID
	if len(s) != 2*ShardIDSize {
		return id, fmt.Errorf("shard id %q: want %d hex digits, have %d", s, 2*ShardIDSize, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("shard id %q: %w", s, err)
	}
	return id, nil
}

// PeerID names a peer. It is opaque to everything but the Transport that
// issued it; for libp2p it is the binary form of a peer.ID.
type PeerID string

// String renders the ID for people and logs: as is when it is printable
// text (the names of in-process peers), else in base58, which is how
// libp2p writes its binary peer IDs ("12D3KooW..."). Without it, errors
// and logs would carry raw binary.
func (p PeerID) String() string {
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x21 || c > 0x7e {
			return base58.Encode([]byte(p))
		}
	}
	return string(p)
}

// MaxPeerIDSize bounds the length of a PeerID read from the network or disk.
const MaxPeerIDSize = 128

// Stream is a reliable, ordered, bidirectional byte stream to one peer, the
// shape of a libp2p stream.
type Stream interface {
	io.Reader
	io.Writer
	// Close closes both directions gracefully.
	io.Closer
	// CloseWrite tells the remote side that nothing more will be written: its
	// reads return io.EOF once it has read everything sent before.
	CloseWrite() error
	// Reset aborts the stream in both directions; pending and later reads and
	// writes on either side fail.
	Reset() error
	// SetDeadline bounds all reads and writes, as net.Conn's does.
	SetDeadline(t time.Time) error
	// RemotePeer is the peer at the other end.
	RemotePeer() PeerID
}

// StreamHandler serves one inbound stream. It owns the stream and must close
// or reset it.
type StreamHandler func(Stream)

// Transport carries streams between peers. The in-process implementation
// (package node/inproc) and the libp2p one present the same behaviour, so the
// protocol code above them is the same in tests and in real use.
type Transport interface {
	// Self is this peer's identity.
	Self() PeerID
	// Peers lists the peers this transport currently knows how to reach.
	Peers() []PeerID
	// NewStream opens a stream to p speaking protocol. It fails with
	// ErrUnreachable when p cannot be reached and ErrProtocolNotSupported when
	// p does not serve protocol.
	NewStream(ctx context.Context, p PeerID, protocol string) (Stream, error)
	// SetStreamHandler serves protocol with h, replacing any earlier handler.
	SetStreamHandler(protocol string, h StreamHandler)
	// RemoveStreamHandler stops serving protocol.
	RemoveStreamHandler(protocol string)
}

var (
	// ErrUnreachable is returned by Transport.NewStream when the peer cannot
	// be reached (it is gone, killed, or on the other side of a partition).
	ErrUnreachable = errors.New("peer unreachable")
	// ErrProtocolNotSupported is returned by Transport.NewStream when the peer
	// does not serve the protocol.
	ErrProtocolNotSupported = errors.New("protocol not supported by peer")
)

// Shard store errors. Stores return these (possibly wrapped), so callers can
// test for them with errors.Is, and the wire protocol maps them to stable
// codes.
var (
	// ErrShardNotFound is returned when a store does not hold the shard.
	ErrShardNotFound = errors.New("shard not found")
	// ErrCorruptShard is returned when bytes do not hash to their ShardID.
	ErrCorruptShard = errors.New("shard bytes do not match shard id")
	// ErrShardSize is returned when a shard is shorter or longer than stated,
	// or its stated size is out of range.
	ErrShardSize = errors.New("shard size mismatch")
	// ErrNoSpace is returned when storing a shard would exceed the store's
	// capacity. Nothing is written.
	ErrNoSpace = errors.New("not enough free capacity")
	// ErrClosed is returned by a store that has been closed.
	ErrClosed = errors.New("store closed")
)

// ShardInfo describes one stored shard.
type ShardInfo struct {
	ID   ShardID
	Size int64
}

// Usage is a store's space accounting. Used is the sum of what the shards
// it holds cost it (a disk store charges each shard its blocks, a fixed
// overhead and its sidecars; an in-memory one its size); Capacity is the
// limit it enforces on that sum (0: none).
type Usage struct {
	Shards   int64
	Used     int64
	Capacity int64
}

// ShardReceiver takes shards in.
type ShardReceiver interface {
	// ReceiveShard stores the size bytes read from r as shard id. It returns
	// nil only once the bytes are durable and have been verified to hash to
	// id; on error nothing of the shard is kept and no space stays reserved.
	// Receiving a shard the store already holds succeeds without rewriting it.
	ReceiveShard(ctx context.Context, id ShardID, size int64, r io.Reader) error
}

// ShardFetcher reads shards out.
type ShardFetcher interface {
	// FetchShard opens length bytes of shard id starting at off (length < 0:
	// to the end) and also returns the shard's full size. It returns
	// ErrShardNotFound for an unknown shard and ErrShardSize for a range
	// outside the shard.
	FetchShard(ctx context.Context, id ShardID, off, length int64) (io.ReadCloser, int64, error)
}

// ShardStatter reports whether a shard is held.
type ShardStatter interface {
	// StatShard returns the size of shard id, or ErrShardNotFound.
	StatShard(ctx context.Context, id ShardID) (int64, error)
}

// ShardRemover deletes shards.
type ShardRemover interface {
	// RemoveShard deletes shard id and releases its space. Removing a shard
	// that is not held returns ErrShardNotFound.
	RemoveShard(ctx context.Context, id ShardID) error
}

// ShardEnumerator lists shards.
type ShardEnumerator interface {
	// Shards yields every stored shard in ShardID order.
	Shards(ctx context.Context) iter.Seq2[ShardInfo, error]
}

// ShardStore is everything a provider's storage does. Callers should take
// the smallest interface they need.
type ShardStore interface {
	ShardReceiver
	ShardFetcher
	ShardStatter
	ShardRemover
	ShardEnumerator
	Usage(ctx context.Context) (Usage, error)
	Close() error
}

// Router finds peers by shard ID: in a real network the Kademlia DHT, in
// process a ranking of the transport's peers. Keys are the multihash of the
// ShardID (BLAKE3, code 0x1e), which is also the digest inside a manifest
// CID, so manifests and shards are found the same way. Distances are XOR
// distances between SHA-256 images of keys and of peer IDs, as in
// go-libp2p-kad-dht.
type Router interface {
	// ClosestPeers returns peers closest to id, closest first.
	ClosestPeers(ctx context.Context, id ShardID) ([]PeerID, error)
	// Provide announces that this peer holds id.
	Provide(ctx context.Context, id ShardID) error
	// FindProviders returns up to limit peers that announced id.
	FindProviders(ctx context.Context, id ShardID, limit int) ([]PeerID, error)
}

// Multihash returns the multihash of id: BLAKE3-256 (code 0x1e), length 32,
// digest. It is the key under which id is routed and announced.
func (id ShardID) Multihash() []byte {
	mh := make([]byte, 0, 2+ShardIDSize)
	mh = append(mh, 0x1e, ShardIDSize)
	return append(mh, id[:]...)
}
