package dsn

import (
	"fmt"
	"io"

	"github.com/zeebo/blake3"
)

// VerifyReader returns a reader of the size bytes of shard id read from r.
// It reads no more than size bytes from r, and reports io.EOF only after
// exactly size bytes have been read and they hash to id; otherwise it
// returns an error wrapping ErrShardSize (r ended early) or ErrCorruptShard
// (wrong bytes) in place of io.EOF. Whether r holds anything after the
// shard is the caller's framing to check.
// Every path that takes shard bytes in reads them through it (or through
// VerifyHashedReader), so that no code commits or uses bytes whose hash
// was not checked.
func VerifyReader(id ShardID, size int64, r io.Reader) io.Reader {
	h := blake3.New()
	return &verifyingReader{id: id, size: size, left: size, r: r,
		feed: func(p []byte) { _, _ = h.Write(p) }, // never fails
		root: func() (s ShardID) { h.Sum(s[:0]); return s },
	}
}

// VerifyHashedReader is VerifyReader for a caller that hashes the bytes
// itself as it consumes them (a shard's Merkle outboard is the same
// BLAKE3 tree, so building it gives the root for free): root returns the
// root of every byte the caller has had so far. It is asked on the Read
// after the last byte, which the caller must make (io.ReadFull does not;
// a loop to io.EOF does) once it has hashed everything it was given.
func VerifyHashedReader(id ShardID, size int64, r io.Reader, root func() ShardID) io.Reader {
	return &verifyingReader{id: id, size: size, left: size, r: r, root: root}
}

type verifyingReader struct {
	id   ShardID
	size int64
	left int64
	r    io.Reader
	feed func([]byte) // nil: the caller hashes what it reads
	root func() ShardID
	err  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.size < 0 || v.size > MaxShardSize {
		v.err = fmt.Errorf("shard %s: size %d out of range [0, %d]: %w", v.id.Short(), v.size, int64(MaxShardSize), ErrShardSize)
		return 0, v.err
	}
	if v.left == 0 {
		v.err = v.finish()
		return 0, v.err
	}
	if int64(len(p)) > v.left {
		p = p[:v.left]
	}
	n, err := v.r.Read(p)
	if v.feed != nil {
		v.feed(p[:n])
	}
	v.left -= int64(n)
	switch {
	case err == io.EOF && v.left > 0:
		v.err = fmt.Errorf("shard %s: got %d of %d bytes: %w", v.id.Short(), v.size-v.left, v.size, ErrShardSize)
		return n, v.err
	case err == io.EOF && v.feed != nil:
		v.err = v.finish()
		return n, v.err
	case err == io.EOF:
		// The last bytes are not yet hashed by the caller: report the
		// end on the next call, after it has.
		return n, nil
	case err != nil:
		v.err = err
	}
	return n, err
}

// finish runs once all size bytes have been read and checks the hash.
func (v *verifyingReader) finish() error {
	if got := v.root(); got != v.id {
		return fmt.Errorf("shard %s: bytes hash to %s: %w", v.id.Short(), got.Short(), ErrCorruptShard)
	}
	return io.EOF
}
