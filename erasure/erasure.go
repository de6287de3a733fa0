package erasure

import (
	"errors"
	"fmt"

	"github.com/klauspost/reedsolomon"
)

// MaxShards is the largest k+m a Code accepts. Up to 256 shards the library
// uses its classic GF(2^8) Vandermonde code, whose shards are the ones the
// manifest format describes; beyond that it would switch to a different
// (Leopard GF(2^16)) code with different parity bytes.
const MaxShards = 256

// MaxSegmentLen bounds the length of one segment. Real segments are tens of
// MiB; the bound keeps every size computed from a segment length (which may
// come from a manifest read off the network) far from overflowing an int.
const MaxSegmentLen = 1 << 36

var (
	// ErrShardCount is returned by New when k < 1, m < 0 or k+m > MaxShards,
	// and by Decode when the shard list does not hold k+m entries.
	ErrShardCount = errors.New("erasure: invalid shard count")

	// ErrTooFewShards is returned (wrapped, with the counts) by Decode when
	// fewer than k shards are present, so the segment cannot be rebuilt.
	ErrTooFewShards = errors.New("erasure: too few shards")

	// ErrShardSize is returned by Decode when a present shard's length is not
	// ShardSize(segLen, k).
	ErrShardSize = errors.New("erasure: wrong shard size")

	// ErrSegmentLen is returned by Encode and Decode when segLen is below 1
	// or above MaxSegmentLen.
	ErrSegmentLen = errors.New("erasure: invalid segment length")

	// ErrBufferSize is returned by Encode when buf is shorter than
	// BufferSize(segLen).
	ErrBufferSize = errors.New("erasure: buffer too small")
)

// Option adjusts a Code. There are deliberately no options that change the
// coding matrix: the parity bytes are part of the stored format.
type Option func(*config)

type config struct {
	shardSizeHint int
}

// WithShardSizeHint tells the library the shard size the Code will mostly
// see, so it can size its internal work split for it (reedsolomon's
// WithAutoGoroutines). It changes speed only, never the bytes produced.
// Values <= 0 are ignored.
func WithShardSizeHint(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.shardSizeHint = n
		}
	}
}

// Code is a systematic k+m Reed-Solomon code over segments.
//
// A Code is safe for concurrent use by multiple goroutines. It holds only
// read-only state and a reedsolomon.Encoder; the library's encoder keeps its
// coding matrix read-only after New, guards its cache of inverted decoding
// matrices with a sync.RWMutex and takes scratch space from a sync.Pool, and
// its author confirms sharing one encoder between goroutines is supported
// (klauspost/reedsolomon issue #95). TestConcurrent checks this under -race.
//
// The library may split one large Encode or reconstruction across a few
// goroutines of its own; Code starts none.
type Code struct {
	k, m int
	enc  reedsolomon.Encoder
}

// New returns a Code with k data and m parity shards per segment.
func New(k, m int, opts ...Option) (*Code, error) {
	if k < 1 || m < 0 || k > MaxShards || m > MaxShards || k+m > MaxShards {
		return nil, fmt.Errorf("%w: k=%d m=%d, want k >= 1, m >= 0, k+m <= %d", ErrShardCount, k, m, MaxShards)
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	var rsOpts []reedsolomon.Option
	if cfg.shardSizeHint > 0 {
		rsOpts = append(rsOpts, reedsolomon.WithAutoGoroutines(cfg.shardSizeHint))
	}
	enc, err := reedsolomon.New(k, m, rsOpts...)
	if err != nil {
		return nil, fmt.Errorf("erasure: new %d+%d code: %w", k, m, err)
	}
	return &Code{k: k, m: m, enc: enc}, nil
}

// K returns the number of data shards.
func (c *Code) K() int { return c.k }

// M returns the number of parity shards.
func (c *Code) M() int { return c.m }

// BufferSize returns the buffer length Encode needs for a segment of segLen
// bytes: (k+m)*ShardSize(segLen, k). It returns 0 when segLen is out of
// range (see ErrSegmentLen).
func (c *Code) BufferSize(segLen int64) int {
	if segLen < 1 || segLen > MaxSegmentLen {
		return 0
	}
	return (c.k + c.m) * int(ShardSize(segLen, c.k))
}

func checkSegLen(segLen int64) error {
	if segLen < 1 || segLen > MaxSegmentLen {
		return fmt.Errorf("%w: %d bytes, want 1 to %d", ErrSegmentLen, segLen, int64(MaxSegmentLen))
	}
	return nil
}

// Encode codes the segment held in buf[:segLen]. It zero-fills the padding
// after the data up to k*ShardSize(segLen, k), computes the m parity shards
// in place in the rest of buf, and returns the k+m shards as sub-slices of
// buf: data shards first, then parity. The data is not copied. Each returned
// shard has its capacity capped at its length, so appending to one cannot
// overwrite the next. len(buf) must be at least BufferSize(segLen).
func (c *Code) Encode(buf []byte, segLen int64) ([][]byte, error) {
	if err := checkSegLen(segLen); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	need := c.BufferSize(segLen)
	if len(buf) < need {
		return nil, fmt.Errorf("encode %d-byte segment: %w: have %d bytes, need %d", segLen, ErrBufferSize, len(buf), need)
	}
	s := int(ShardSize(segLen, c.k))
	clear(buf[segLen : c.k*s])
	shards := make([][]byte, c.k+c.m)
	for i := range shards {
		shards[i] = buf[i*s : (i+1)*s : (i+1)*s]
	}
	if c.m == 0 {
		return shards, nil
	}
	if err := c.enc.Encode(shards); err != nil {
		// Unreachable with the checks above; kept so a library change
		// surfaces as an error rather than bad parity.
		return nil, fmt.Errorf("encode %d-byte segment: %w", segLen, err)
	}
	return shards, nil
}

// Decode rebuilds the segment of segLen bytes from shards, which must hold
// k+m entries in the order Encode returned them, nil (or empty) where a shard
// is missing or was rejected. Present shards must be ShardSize(segLen, k)
// bytes long.
//
// When all k data shards are present Decode does no Reed-Solomon work and
// never reads a parity shard: it only copies the data shards into dst.
// Otherwise it reconstructs just the missing data shards from the first k
// present shards, writing them straight into dst where dst has room, and
// copies the present data shards around them.
//
// Decode returns dst[:segLen], growing dst when its capacity is below segLen.
// dst must not overlap any shard, except that a shard may sit at its own
// offset in dst (as when decoding into the buffer Encode filled).
//
// Decode cannot tell a corrupt shard from a good one: callers check each
// shard against its ShardID before passing it in.
func (c *Code) Decode(shards [][]byte, segLen int64, dst []byte) ([]byte, error) {
	if err := checkSegLen(segLen); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	n := c.k + c.m
	if len(shards) != n {
		return nil, fmt.Errorf("decode: %w: have %d shards, want k+m = %d", ErrShardCount, len(shards), n)
	}
	s := int(ShardSize(segLen, c.k))
	present, dataPresent := 0, 0
	for i, sh := range shards {
		if len(sh) == 0 {
			continue
		}
		if len(sh) != s {
			return nil, fmt.Errorf("decode %d-byte segment: %w: shard %d is %d bytes, want %d", segLen, ErrShardSize, i, len(sh), s)
		}
		present++
		if i < c.k {
			dataPresent++
		}
	}
	if present < c.k {
		return nil, fmt.Errorf("decode %d-byte segment: %w: %d of %d present, need %d", segLen, ErrTooFewShards, present, n, c.k)
	}
	// Sizes are checked before dst is grown, so a bogus segLen cannot make
	// Decode allocate more than the shards it was handed already occupy.
	if int64(cap(dst)) < segLen {
		dst = make([]byte, segLen)
	}
	dst = dst[:segLen]

	if dataPresent == c.k {
		copyData(dst, shards[:c.k], s)
		return dst, nil
	}

	return c.reconstruct(shards, s, dst)
}

// reconstruct rebuilds the missing data shards into dst. A missing shard
// that lies wholly inside dst's capacity is handed to the library as a
// zero-length slice of that region, which it fills in place; only a shard
// reaching past the capacity (the padded tail) gets memory of its own.
// The present data shards are then copied around them.
//
// Rebuilding stripe by stripe, so that the copy of the present shards would
// find them still in cache, was measured and lost: 1.2x to 1.9x slower for
// 4+2, 10+4 and 29+51 at 8 to 128 MiB (likely because each stripe pays the
// library's fork and join of its worker goroutines).
func (c *Code) reconstruct(shards [][]byte, s int, dst []byte) ([]byte, error) {
	full := dst[:cap(dst)]
	work := make([][]byte, c.k+c.m)
	copy(work, shards)
	for i := 0; i < c.k; i++ {
		if len(work[i]) == 0 {
			work[i] = nil
			if (i+1)*s <= len(full) {
				work[i] = full[i*s : i*s : (i+1)*s]
			}
		}
	}
	if err := c.enc.ReconstructData(work); err != nil {
		return nil, fmt.Errorf("decode %d-byte segment: %w", len(dst), err)
	}
	copyData(dst, work[:c.k], s)
	return dst, nil
}

// copyData copies the data shards, each s bytes, into dst, dropping the
// padding after len(dst). Shards already at their offset in dst are skipped.
func copyData(dst []byte, data [][]byte, s int) {
	for i, sh := range data {
		off := i * s
		if off >= len(dst) {
			break
		}
		part := dst[off:min(off+s, len(dst))]
		if len(part) > 0 && &part[0] == &sh[0] {
			continue
		}
		copy(part, sh)
	}
}
