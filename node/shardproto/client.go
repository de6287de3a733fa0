package shardproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsn-project/dsn"
)

// Put stores the size bytes read from r on peer p as shard id. It returns
// nil only once p has acknowledged the shard, which a provider does after
// the bytes are durable and verified to hash to id (or when it already held
// the shard). ctx bounds the whole transfer; without a deadline in ctx the
// stream gets DefaultTimeout plus size at DefaultMinRate.
//
// Errors from p match the dsn sentinels (dsn.ErrCorruptShard,
// dsn.ErrNoSpace, dsn.ErrShardSize, ...) or this package's (ErrBusy, ...)
// under errors.Is. r yielding fewer than size bytes gives dsn.ErrShardSize
// without p storing anything.
func Put(ctx context.Context, t dsn.Transport, p dsn.PeerID, id dsn.ShardID, size int64, r io.Reader) error {
	op := func(err error) error { return fmt.Errorf("put shard %s to %s: %w", id.Short(), p, err) }
	if size < 0 || size > dsn.MaxShardSize {
		return op(fmt.Errorf("size %d out of range [0, %d]: %w", size, int64(dsn.MaxShardSize), dsn.ErrShardSize))
	}
	st, err := t.NewStream(ctx, p, PutProtocol)
	if err != nil {
		return op(err)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = transferDeadline(DefaultTimeout, DefaultMinRate, size)
	}
	_ = st.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()

	if err := put(st, id, size, r); err != nil {
		_ = st.Reset()
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return op(err)
	}
	_ = st.Close()
	return nil
}

func put(st dsn.Stream, id dsn.ShardID, size int64, r io.Reader) error {
	if err := writeFrame(st, putRequest{id: id, size: size}); err != nil {
		return resultAfter(st, fmt.Errorf("send request: %w", err))
	}
	if werr, err := sendBody(st, size, r); werr != nil {
		return resultAfter(st, werr)
	} else if err != nil {
		return err
	}
	if err := st.CloseWrite(); err != nil {
		return resultAfter(st, fmt.Errorf("close write: %w", err))
	}
	res, err := readPutResult(st)
	if err != nil {
		return err
	}
	if res.code != CodeOK {
		return remoteError(res.code, res.text)
	}
	return nil
}

// inMemory is a source whose bytes are already in memory (*bytes.Reader),
// which can write them to the stream without a copy through a buffer.
type inMemory interface {
	Len() int
	io.WriterTo
}

// sendBody writes exactly size bytes of r to st. A failed write is
// returned as werr, since the provider's reply may explain it; err is a
// failure of the source.
func sendBody(st dsn.Stream, size int64, r io.Reader) (werr, err error) {
	if m, ok := r.(inMemory); ok && int64(m.Len()) == size {
		// The erasure coder hands over whole shards in memory: the copy
		// into a buffer would cost as much as the transport's own.
		if _, err := m.WriteTo(st); err != nil {
			return fmt.Errorf("send shard bytes: %w", err), nil
		}
		return nil, nil
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for left := size; left > 0; {
		nr, rerr := r.Read(buf[:min(left, int64(len(buf)))])
		if nr > 0 {
			if _, werr := st.Write(buf[:nr]); werr != nil {
				return fmt.Errorf("send shard bytes: %w", werr), nil
			}
			left -= int64(nr)
		}
		switch {
		case rerr == io.EOF && left > 0:
			return nil, fmt.Errorf("source ended after %d of %d bytes: %w", size-left, size, dsn.ErrShardSize)
		case rerr != nil && rerr != io.EOF:
			return nil, fmt.Errorf("read source: %w", rerr)
		}
	}
	return nil, nil
}

// resultAfter handles a failed write: a provider that refuses a shard
// replies and stops reading, which fails our writes, so its reply (if any)
// says more than the write error does. A provider that already held the
// shard replies OK without reading it.
func resultAfter(st dsn.Stream, werr error) error {
	res, err := readPutResult(st)
	if err != nil {
		return werr
	}
	if res.code != CodeOK {
		return remoteError(res.code, res.text)
	}
	return nil
}

func readPutResult(st dsn.Stream) (putResult, error) {
	var buf [MaxFrameSize]byte
	body, err := readFrame(st, buf[:])
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return putResult{}, fmt.Errorf("read result: %w", err)
	}
	return decodePutResult(body)
}

// Get opens length bytes of shard id on peer p starting at off (length -1:
// to the end) and returns them as a stream together with the shard's full
// size. Nothing is buffered whole: bytes arrive as the caller reads. The
// reader reports io.EOF only after exactly the announced bytes arrived and
// the provider ended the stream; a stream cut short gives an error wrapping
// io.ErrUnexpectedEOF. Callers verify whole shards with dsn.VerifyReader.
//
// ctx bounds the whole transfer, including reads from the returned reader.
// Closing the reader before its end resets the stream, which stops the
// provider's sending.
func Get(ctx context.Context, t dsn.Transport, p dsn.PeerID, id dsn.ShardID, off, length int64) (io.ReadCloser, int64, error) {
	what := fmt.Sprintf("get shard %s [%d,+%d) from %s", id.Short(), off, length, p)
	op := func(err error) error { return fmt.Errorf("%s: %w", what, err) }
	if off < 0 || off > dsn.MaxShardSize || length < -1 || length > dsn.MaxShardSize {
		return nil, 0, op(fmt.Errorf("range out of bounds: %w", dsn.ErrShardSize))
	}
	st, err := t.NewStream(ctx, p, GetProtocol)
	if err != nil {
		return nil, 0, op(err)
	}
	dl, hasDeadline := ctx.Deadline()
	if !hasDeadline {
		dl = time.Now().Add(DefaultTimeout)
	}
	_ = st.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	fail := func(err error) (io.ReadCloser, int64, error) {
		stop()
		_ = st.Reset()
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return nil, 0, op(err)
	}

	// A provider that turns the request away (Busy) answers without reading
	// it, which can fail our write; its answer is then the better error.
	werr := writeFrame(st, getRequest{id: id, off: off, length: length})
	if werr == nil {
		werr = st.CloseWrite()
	}
	var buf [MaxFrameSize]byte
	body, err := readFrame(st, buf[:])
	if err != nil {
		if werr != nil {
			return fail(fmt.Errorf("send request: %w", werr))
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fail(fmt.Errorf("read response: %w", err))
	}
	resp, err := decodeGetResponse(body)
	if err != nil {
		return fail(err)
	}
	if resp.code != CodeOK {
		return fail(remoteError(resp.code, resp.text))
	}
	if werr != nil {
		return fail(fmt.Errorf("send request: %w", werr))
	}
	want := length
	if want < 0 {
		want = resp.size - off
	}
	if resp.size > dsn.MaxShardSize || resp.length != want || off+resp.length > resp.size {
		return fail(fmt.Errorf("%w: response announces %d bytes of a %d-byte shard", ErrMalformed, resp.length, resp.size))
	}
	if !hasDeadline {
		_ = st.SetDeadline(transferDeadline(DefaultTimeout, DefaultMinRate, resp.length))
	}
	return &getReader{st: st, stop: stop, ctxErr: ctx.Err, what: what, left: resp.length, n: resp.length}, resp.size, nil
}

// getReader yields exactly the announced bytes of a get stream.
type getReader struct {
	st     dsn.Stream
	stop   func() bool
	ctxErr func() error
	what   string
	left   int64
	n      int64
	err    error // sticky; io.EOF after a clean end

	clean     atomic.Bool // the provider ended the stream after the last byte
	closeOnce sync.Once
}

func (g *getReader) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.left == 0 {
		g.err = g.confirmEnd()
		return 0, g.err
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	k, err := g.st.Read(p)
	g.left -= int64(k)
	switch {
	case err == io.EOF && g.left > 0:
		g.err = fmt.Errorf("%s: stream ended after %d of %d bytes: %w", g.what, g.n-g.left, g.n, io.ErrUnexpectedEOF)
	case err == io.EOF:
		g.clean.Store(true)
		g.err = io.EOF
	case err != nil:
		g.err = g.wrap(err)
	}
	return k, g.err
}

// confirmEnd checks that the provider sent nothing past the announced
// length, so that framing errors do not go unnoticed.
func (g *getReader) confirmEnd() error {
	var one [1]byte
	for {
		k, err := g.st.Read(one[:])
		switch {
		case k > 0:
			return fmt.Errorf("%s: %w: more bytes than the %d announced", g.what, ErrMalformed, g.n)
		case err == io.EOF:
			g.clean.Store(true)
			return io.EOF
		case err != nil:
			return g.wrap(err)
		}
	}
}

func (g *getReader) wrap(err error) error {
	if cerr := g.ctxErr(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s: %w: %w", g.what, cerr, err)
	}
	return fmt.Errorf("%s: %w", g.what, err)
}

// Close ends the transfer: gracefully after a clean end, otherwise by
// resetting the stream so the provider stops sending. It may be called from
// another goroutine to abort a blocked Read.
func (g *getReader) Close() error {
	g.closeOnce.Do(func() {
		g.stop()
		if g.clean.Load() {
			_ = g.st.Close()
		} else {
			_ = g.st.Reset()
		}
	})
	return nil
}
