package compact

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"github.com/dsn-project/dsn"
)

// TagsVersion is the first byte of an encoded tag file.
const TagsVersion = 1

// ErrMalformedTags is returned by DecodeTags, and by a Prover reading a tag
// file, when the bytes are not a tag file for the stated shard size: wrong
// version byte, wrong length, or a tag that is not a canonical scalar.
var ErrMalformedTags = errors.New("malformed compact proof tags")

// TagsSize returns the length of the encoded tags of a shard of size bytes:
// a version byte and one 32-byte scalar per block. It is about 0.52% of size.
func TagsSize(size int64) int64 { return 1 + ScalarSize*Blocks(size) }

// tagOffset is where the tag of block i starts in an encoded tag file.
func tagOffset(i uint64) int64 { return 1 + ScalarSize*int64(i) }

// Tagger computes the tags of one shard from its bytes, streamed through
// Write in pieces of any size, and writes the encoded tag file to w: the
// version byte, then one tag per block as soon as the block is complete.
// Close tags the last, zero-padded block. It holds one block of the shard at
// most, so a store pipeline can feed a shard through it while hashing or
// sending it.
//
// The shard's ID must be known before tagging starts, since every tag is
// bound to it: tag the shard after hashing it.
type Tagger struct {
	k     *Key
	id    dsn.ShardID
	prf   prf
	w     io.Writer
	buf   [BlockSize]byte
	n     int    // bytes of a partial block held in buf
	block uint64 // index of the next block to tag
	size  int64
	out   []byte // encoded tags not yet written to w
	err   error
	done  bool
}

// flushAt is how many encoded bytes a Tagger gathers before writing to w.
const flushAt = 4096

// NewTagger returns a Tagger for shard id that writes the encoded tags to w.
func (k *Key) NewTagger(id dsn.ShardID, w io.Writer) *Tagger {
	t := &Tagger{k: k, id: id, prf: newPRF(k), w: w, out: make([]byte, 0, flushAt+ScalarSize)}
	t.out = append(t.out, TagsVersion)
	return t
}

// Write feeds shard bytes to the tagger. It fails once the shard would
// exceed dsn.MaxShardSize, after Close, or after w failed.
func (t *Tagger) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.done {
		return 0, fmt.Errorf("tag shard %s: write after close", t.id.Short())
	}
	if int64(len(p)) > dsn.MaxShardSize-t.size {
		t.err = fmt.Errorf("tag shard %s: more than %d bytes: %w", t.id.Short(), int64(dsn.MaxShardSize), dsn.ErrShardSize)
		return 0, t.err
	}
	written := len(p)
	t.size += int64(len(p))
	if t.n > 0 {
		c := copy(t.buf[t.n:], p)
		t.n += c
		p = p[c:]
		if t.n < BlockSize {
			return written, nil
		}
		t.tag(&t.buf)
		t.n = 0
	}
	// Whole blocks are tagged in place, without copying.
	for len(p) >= BlockSize {
		t.tag((*[BlockSize]byte)(p))
		p = p[BlockSize:]
	}
	t.n = copy(t.buf[:], p)
	return written, t.flush(false)
}

// Close tags the final block, zero-padded, and writes all remaining tags to
// w. It does not close w. A shard of 0 bytes has no blocks and no tags.
func (t *Tagger) Close() error {
	if t.err != nil {
		return t.err
	}
	if t.done {
		return nil
	}
	t.done = true
	if t.n > 0 {
		clear(t.buf[t.n:])
		t.tag(&t.buf)
		t.n = 0
	}
	return t.flush(true)
}

// Size is the number of shard bytes written so far.
func (t *Tagger) Size() int64 { return t.size }

func (t *Tagger) tag(block *[BlockSize]byte) {
	var s, r edwards25519.Scalar
	if t.k.alphaIFMA != nil {
		var cols [10][8]uint64
		innerProductIFMA(t.k.alphaIFMA, block, &cols)
		reduceLanes(&s, &cols)
	} else {
		rows := innerProduct(&t.k.alphaLimbs, block)
		reduceRows(&s, &rows)
	}
	s.Add(&s, t.prf.scalar(&r, t.id, t.block))
	t.block++
	t.out = append(t.out, s.Bytes()...)
}

func (t *Tagger) flush(all bool) error {
	if len(t.out) == 0 || (!all && len(t.out) < flushAt) {
		return nil
	}
	if _, err := t.w.Write(t.out); err != nil {
		t.err = fmt.Errorf("tag shard %s: write tags: %w", t.id.Short(), err)
		return t.err
	}
	t.out = t.out[:0]
	return nil
}

// Tags returns the encoded tag file of shard, whose ID is id. It fails only
// for a shard larger than dsn.MaxShardSize.
func (k *Key) Tags(id dsn.ShardID, shard []byte) ([]byte, error) {
	w := &appendWriter{b: make([]byte, 0, TagsSize(int64(len(shard))))}
	t := k.NewTagger(id, w)
	if _, err := t.Write(shard); err != nil {
		return nil, err
	}
	if err := t.Close(); err != nil {
		return nil, err
	}
	return w.b, nil
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// DecodeTags parses the encoded tag file of a shard of size bytes. It
// accepts exactly the encodings a Tagger produces: the version byte, then
// Blocks(size) canonical scalars, nothing more.
func DecodeTags(b []byte, size int64) ([]edwards25519.Scalar, error) {
	if size < 0 || size > dsn.MaxShardSize {
		return nil, fmt.Errorf("decode tags: shard size %d out of range [0, %d]: %w", size, int64(dsn.MaxShardSize), ErrMalformedTags)
	}
	if want := TagsSize(size); int64(len(b)) != want {
		return nil, fmt.Errorf("decode tags: %d bytes, want %d for a %d-byte shard: %w", len(b), want, size, ErrMalformedTags)
	}
	if b[0] != TagsVersion {
		return nil, fmt.Errorf("decode tags: version %d, want %d: %w", b[0], TagsVersion, ErrMalformedTags)
	}
	tags := make([]edwards25519.Scalar, Blocks(size))
	for i := range tags {
		off := tagOffset(uint64(i))
		if _, err := tags[i].SetCanonicalBytes(b[off : off+ScalarSize]); err != nil {
			return nil, fmt.Errorf("decode tags: tag of block %d is not a canonical scalar: %w", i, ErrMalformedTags)
		}
	}
	return tags, nil
}

// EncodeTags returns the encoded tag file holding tags.
func EncodeTags(tags []edwards25519.Scalar) []byte {
	out := make([]byte, 1, 1+ScalarSize*len(tags))
	out[0] = TagsVersion
	for i := range tags {
		out = append(out, tags[i].Bytes()...)
	}
	return out
}
