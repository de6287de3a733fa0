package dsn

import (
	"fmt"
	"hash"
	"io"

	"github.com/zeebo/blake3"
)

// VerifyReader returns a reader of the size bytes of shard id read from r.
// It reads no more than size bytes from r, and reports io.EOF only after
// exactly size bytes have been read and they hash to id; otherwise it
// returns an error wrapping ErrShardSize (r ended early) or ErrCorruptShard
// (wrong bytes) in place of io.EOF. Whether r holds anything after the
// shard is the caller's framing to check.
// Every path that takes shard bytes in reads them through it, so that no
// code commits or uses bytes whose hash was not checked.
func VerifyReader(id ShardID, size int64, r io.Reader) io.Reader {
	return &verifyingReader{id: id, size: size, left: size, r: r, h: blake3.New()}
}

type verifyingReader struct {
	id   ShardID
	size int64
	left int64
	r    io.Reader
	h    hash.Hash
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
	v.h.Write(p[:n])
	v.left -= int64(n)
	if err == io.EOF {
		if v.left > 0 {
			v.err = fmt.Errorf("shard %s: got %d of %d bytes: %w", v.id.Short(), v.size-v.left, v.size, ErrShardSize)
			return n, v.err
		}
		v.err = v.finish()
		return n, v.err
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// finish runs once all size bytes have been read and checks the hash.
func (v *verifyingReader) finish() error {
	var got ShardID
	v.h.Sum(got[:0])
	if got != v.id {
		return fmt.Errorf("shard %s: bytes hash to %s: %w", v.id.Short(), got.Short(), ErrCorruptShard)
	}
	return io.EOF
}
