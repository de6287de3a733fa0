package shardproto

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/frame"
	"github.com/dsn-project/dsn/node/inproc"
)

type fixture struct {
	net      *inproc.Network
	client   *inproc.Transport
	provider dsn.PeerID
	store    *memStore
	srv      *Server
}

func newFixture(t *testing.T, store *memStore, opts ServerOptions) *fixture {
	t.Helper()
	n := inproc.NewNetwork()
	f := &fixture{net: n, client: n.Add("client"), provider: "provider", store: store}
	f.srv = NewServer(store, opts)
	f.srv.Register(n.Add(f.provider))
	return f
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// shard returns n deterministic bytes that differ per seed, and their id.
func shard(seed, n int) ([]byte, dsn.ShardID) {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 7
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b, dsn.SumShard(b)
}

// getAll fetches a range and reads it to the end.
func getAll(ctx context.Context, f *fixture, id dsn.ShardID, off, length int64) ([]byte, int64, error) {
	rc, size, err := Get(ctx, f.client, f.provider, id, off, length)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, size, err
}

func TestRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, newMemStore(), ServerOptions{})
	var total int64
	for i, n := range []int{0, 1, 1000, 3<<20 + 17} {
		data, id := shard(i, n)
		if err := Put(ctx, f.client, f.provider, id, int64(n), bytes.NewReader(data)); err != nil {
			t.Fatalf("Put(%d bytes) = %v", n, err)
		}
		rc, size, err := Get(ctx, f.client, f.provider, id, 0, -1)
		if err != nil {
			t.Fatalf("Get(%d bytes) = %v", n, err)
		}
		got, err := io.ReadAll(dsn.VerifyReader(id, size, rc))
		rc.Close()
		if err != nil || size != int64(n) || !bytes.Equal(got, data) {
			t.Errorf("Get(%d bytes) = %d bytes of a %d-byte shard, %v; want the shard back", n, len(got), size, err)
		}
		total += int64(n)
	}
	got := f.srv.Stats()
	want := Stats{Puts: 4, Gets: 4, BytesIn: total, BytesOut: total}
	if got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestRanges(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, newMemStore(), ServerOptions{})
	const n = 100_000
	data, id := shard(1, n)
	if err := Put(ctx, f.client, f.provider, id, n, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put = %v", err)
	}
	tests := []struct {
		off, length int64
		want        []byte
		err         error
	}{
		{0, -1, data, nil},
		{0, n, data, nil},
		{0, 10, data[:10], nil},
		{40_000, -1, data[40_000:], nil},
		{40_000, 1234, data[40_000:41_234], nil},
		{n - 1, 1, data[n-1:], nil},
		{n, -1, []byte{}, nil},
		{5, 0, []byte{}, nil},
		{n + 1, -1, nil, dsn.ErrShardSize},
		{10, n, nil, dsn.ErrShardSize},
		{-1, 5, nil, dsn.ErrShardSize},
		{0, -2, nil, dsn.ErrShardSize},
		{0, dsn.MaxShardSize + 1, nil, dsn.ErrShardSize},
	}
	for _, tc := range tests {
		got, size, err := getAll(ctx, f, id, tc.off, tc.length)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("Get(off %d, length %d) = %v, want %v", tc.off, tc.length, err, tc.err)
			}
			continue
		}
		if err != nil || size != n || !bytes.Equal(got, tc.want) {
			t.Errorf("Get(off %d, length %d) = %d bytes (shard size %d), %v; want %d bytes of %d", tc.off, tc.length, len(got), size, err, len(tc.want), n)
		}
	}
}

func TestNotFound(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, newMemStore(), ServerOptions{})
	_, id := shard(9, 10)
	_, _, err := Get(ctx, f.client, f.provider, id, 0, -1)
	if !errors.Is(err, dsn.ErrShardNotFound) {
		t.Errorf("Get(unknown shard) = %v, want dsn.ErrShardNotFound", err)
	}
}

func TestPutRejected(t *testing.T) {
	data, id := shard(1, 4<<20)
	_, otherID := shard(2, 10)
	tests := []struct {
		name     string
		capacity int64
		id       dsn.ShardID
		size     int64
		r        io.Reader
		want     error
		notRead  bool // the store must not even be asked
	}{
		{"corrupt", 0, otherID, int64(len(data)), bytes.NewReader(data), dsn.ErrCorruptShard, false},
		{"short source", 0, id, int64(len(data)), bytes.NewReader(data[:1000]), dsn.ErrShardSize, false},
		{"no space", 1 << 20, id, int64(len(data)), bytes.NewReader(data), dsn.ErrNoSpace, false},
		{"oversized", 0, id, dsn.MaxShardSize + 1, bytes.NewReader(data), dsn.ErrShardSize, true},
		{"negative", 0, id, -1, bytes.NewReader(data), dsn.ErrShardSize, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			store := newMemStore()
			store.capacity = tc.capacity
			f := newFixture(t, store, ServerOptions{})
			err := Put(ctx, f.client, f.provider, tc.id, tc.size, tc.r)
			if !errors.Is(err, tc.want) {
				t.Errorf("Put = %v, want %v", err, tc.want)
			}
			shards, receives := waitReceives(t, f, !tc.notRead)
			if shards != 0 {
				t.Errorf("store holds %d shards after a rejected put, want 0", shards)
			}
			if tc.notRead && receives > 0 {
				t.Errorf("store saw %d ReceiveShard calls, want none", receives)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitReceives waits until the server has finished the put it was given
// (when one reached it) and returns the store's counts.
func waitReceives(t *testing.T, f *fixture, reached bool) (shards, receives int) {
	t.Helper()
	if reached {
		waitFor(t, "the server to finish the put", func() bool { s := f.srv.Stats(); return s.Puts+s.PutErrors > 0 })
	}
	return f.store.count()
}

// TestOversizedNotRead sends a put request for a too-large shard and no
// bytes at all: the provider must answer without waiting for them.
func TestOversizedNotRead(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, newMemStore(), ServerOptions{})
	_, id := shard(1, 10)
	st, err := f.client.NewStream(ctx, f.provider, PutProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := writeFrame(st, putRequest{id: id, size: dsn.MaxShardSize + 1}); err != nil {
		t.Fatal(err)
	}
	res, err := readPutResult(st)
	if err != nil || res.code != CodeSizeMismatch {
		t.Errorf("reply to an oversized put = %+v, %v; want code %v", res, err, CodeSizeMismatch)
	}
	if _, receives := f.store.count(); receives != 0 {
		t.Errorf("store saw %d ReceiveShard calls, want 0", receives)
	}
}

func TestDuplicatePut(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, newMemStore(), ServerOptions{})
	data, id := shard(3, 5<<20)
	for i := range 3 {
		// From the second time on the store holds the shard and does not
		// read it: the client's writes fail, and the acknowledgement must
		// still count, whether the bytes come from memory in one write or
		// from a reader through a buffer (the third time).
		var r io.Reader = bytes.NewReader(data)
		if i == 2 {
			r = io.MultiReader(r)
		}
		if err := Put(ctx, f.client, f.provider, id, int64(len(data)), r); err != nil {
			t.Fatalf("Put #%d = %v", i+1, err)
		}
	}
	if shards, receives := f.store.count(); shards != 1 || receives != 3 {
		t.Errorf("store has %d shards after %d receives, want 1 after 3", shards, receives)
	}
}

// TestMalformedFrames sends broken requests on raw streams: each gets a
// BadRequest reply where one can be sent, is counted, and the server keeps
// serving.
func TestMalformedFrames(t *testing.T) {
	_, id := shard(1, 10)
	good := putRequest{id: id, size: 10}.append(nil)
	tests := []struct {
		name     string
		protocol string
		raw      []byte
		reply    bool // a BadRequest reply is expected
	}{
		{"length over limit", PutProtocol, []byte{0x81, 0x08}, true},
		{"huge length", GetProtocol, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, true},
		{"empty frame", PutProtocol, []byte{0x00}, true},
		{"non-minimal length", PutProtocol, []byte{0x80, 0x00}, true},
		{"wrong message type", PutProtocol, frame.Append(nil, getRequest{id: id, length: -1}.append(nil)), true},
		{"unknown message type", GetProtocol, []byte{0x01, 0x63}, true},
		{"truncated id", PutProtocol, frame.Append(nil, good[:20]), true},
		{"trailing bytes", PutProtocol, frame.Append(nil, append(append([]byte{}, good...), 0)), true},
		{"non-minimal size", PutProtocol, frame.Append(nil, append(append([]byte{}, good[:33]...), 0x8a, 0x00)), true},
		{"negative length", GetProtocol, frame.Append(nil, getRequest{id: id, length: -1}.append(nil)[:33:33]), true},
		{"range too large", GetProtocol, frame.Append(nil, getRequest{id: id, off: 1 << 40, length: -1}.append(nil)), true},
		{"stream ends in frame", PutProtocol, []byte{0x30, 0x01}, false},
	}
	ctx := testCtx(t)
	f := newFixture(t, newMemStore(), ServerOptions{})
	wantBad := int64(0)
	for _, tc := range tests {
		st, err := f.client.NewStream(ctx, f.provider, tc.protocol)
		if err != nil {
			t.Fatal(err)
		}
		_ = st.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = st.Write(tc.raw)
		_ = st.CloseWrite()
		var buf [MaxFrameSize]byte
		body, err := readFrame(st, buf[:])
		var code Code
		if err == nil {
			if tc.protocol == PutProtocol {
				var m putResult
				m, err = decodePutResult(body)
				code = m.code
			} else {
				var m getResponse
				m, err = decodeGetResponse(body)
				code = m.code
			}
		}
		_ = st.Reset()
		switch {
		case tc.reply && (err != nil || code != CodeBadRequest):
			t.Errorf("%s: reply = %v, %v; want %v", tc.name, code, err, CodeBadRequest)
		case !tc.reply && err == nil:
			t.Errorf("%s: reply = %v, want none", tc.name, code)
		}
		if tc.reply {
			wantBad++
		}
	}
	if got := f.srv.Stats().BadRequests; got != wantBad {
		t.Errorf("Stats().BadRequests = %d, want %d", got, wantBad)
	}
	data, id := shard(5, 1000)
	if err := Put(ctx, f.client, f.provider, id, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Errorf("Put after malformed requests = %v", err)
	}
	if got, _, err := getAll(ctx, f, id, 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get after malformed requests = %d bytes, %v", len(got), err)
	}
}

// gateReader yields its bytes, but stops after the first half until gate
// is closed, and reports when it got there.
type gateReader struct {
	r       io.Reader
	stopAt  int64
	reached chan struct{}
	gate    chan struct{}
	n       int64
	paused  bool
}

func (g *gateReader) Read(p []byte) (int, error) {
	if g.n == g.stopAt && !g.paused {
		g.paused = true
		close(g.reached)
		<-g.gate
	}
	if int64(len(p)) > g.stopAt-g.n && g.n < g.stopAt {
		p = p[:g.stopAt-g.n]
	}
	k, err := g.r.Read(p)
	g.n += int64(k)
	return k, err
}

func TestPutInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(f *fixture, cancel context.CancelFunc)
		want error
	}{
		{"provider killed", func(f *fixture, _ context.CancelFunc) { f.net.Kill(f.provider) }, dsn.ErrUnreachable},
		{"client killed", func(f *fixture, _ context.CancelFunc) { f.net.Kill("client") }, dsn.ErrUnreachable},
		{"partition", func(f *fixture, _ context.CancelFunc) {
			f.net.Partition([]dsn.PeerID{"client"}, []dsn.PeerID{f.provider})
		}, dsn.ErrUnreachable},
		{"context cancelled", func(_ *fixture, cancel context.CancelFunc) { cancel() }, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testCtx(t))
			f := newFixture(t, newMemStore(), ServerOptions{})
			data, id := shard(4, 4<<20)
			g := &gateReader{r: bytes.NewReader(data), stopAt: 2 << 20, reached: make(chan struct{}), gate: make(chan struct{})}
			errc := make(chan error, 1)
			go func() { errc <- Put(ctx, f.client, f.provider, id, int64(len(data)), g) }()
			select {
			case <-g.reached:
			case <-ctx.Done():
				t.Fatal("Put never got half way")
			}
			tc.cut(f, cancel)
			// Let the cut reach the provider before the client could finish:
			// otherwise the whole shard may legitimately arrive first.
			waitFor(t, "the provider to see the cut", func() bool { return f.srv.Stats().PutErrors > 0 })
			close(g.gate)
			err := <-errc
			if !errors.Is(err, tc.want) {
				t.Errorf("interrupted Put = %v, want %v", err, tc.want)
			}
			if shards, _ := waitReceives(t, f, true); shards != 0 {
				t.Errorf("store holds %d shards after an interrupted put, want 0", shards)
			}
		})
	}
}

func TestGetInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(f *fixture, cancel context.CancelFunc)
		want error
	}{
		{"provider killed", func(f *fixture, _ context.CancelFunc) { f.net.Kill(f.provider) }, dsn.ErrUnreachable},
		{"context cancelled", func(_ *fixture, cancel context.CancelFunc) { cancel() }, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testCtx(t))
			f := newFixture(t, newMemStore(), ServerOptions{})
			data, id := shard(4, 8<<20)
			if err := Put(ctx, f.client, f.provider, id, int64(len(data)), bytes.NewReader(data)); err != nil {
				t.Fatalf("Put = %v", err)
			}
			rc, size, err := Get(ctx, f.client, f.provider, id, 0, -1)
			if err != nil {
				t.Fatalf("Get = %v", err)
			}
			defer rc.Close()
			v := dsn.VerifyReader(id, size, rc)
			if _, err := io.ReadFull(v, make([]byte, 1<<20)); err != nil {
				t.Fatalf("reading the first MiB = %v", err)
			}
			tc.cut(f, cancel)
			n, err := io.Copy(io.Discard, v)
			if !errors.Is(err, tc.want) {
				t.Errorf("reading on after the cut = %d bytes, %v; want %v", n, err, tc.want)
			}
		})
	}
}

func TestGetShortFromStore(t *testing.T) {
	ctx := testCtx(t)
	store := newMemStore()
	f := newFixture(t, store, ServerOptions{})
	data, id := shard(6, 300_000)
	if err := Put(ctx, f.client, f.provider, id, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("Put = %v", err)
	}
	store.shortBy = 1000
	got, _, err := getAll(ctx, f, id, 0, -1)
	if err == nil {
		t.Fatalf("Get from a store that ends early = %d bytes, nil error; want an error", len(got))
	}
	if got := f.srv.Stats().GetErrors; got != 1 {
		t.Errorf("Stats().GetErrors = %d, want 1", got)
	}
}

func TestGetCloseEarly(t *testing.T) {
	ctx := testCtx(t)
	store := newMemStore()
	store.readerClosed = make(chan struct{}, 1)
	f := newFixture(t, store, ServerOptions{})
	data, id := shard(7, 16<<20)
	if err := Put(ctx, f.client, f.provider, id, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("Put = %v", err)
	}
	rc, _, err := Get(ctx, f.client, f.provider, id, 0, -1)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 100)); err != nil {
		t.Fatalf("ReadFull = %v", err)
	}
	rc.Close()
	if _, err := rc.Read(make([]byte, 1)); err == nil || err == io.EOF {
		t.Errorf("Read after Close = %v, want an error", err)
	}
	select {
	case <-store.readerClosed:
	case <-ctx.Done():
		t.Fatal("provider never stopped sending")
	}
	s := f.srv.Stats()
	if s.GetErrors != 1 || s.Gets != 0 || s.BytesOut >= int64(len(data)) {
		t.Errorf("after an early Close: Stats() = %+v, want one broken-off get with fewer than %d bytes out", s, len(data))
	}
}

func TestContextDeadline(t *testing.T) {
	store := newMemStore()
	store.fetchGate = make(chan struct{})
	defer close(store.fetchGate)
	f := newFixture(t, store, ServerOptions{})
	_, id := shard(1, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := Get(ctx, f.client, f.provider, id, 0, -1)
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Get from a stalled provider = %v, want a deadline error", err)
	}
}

func TestBusy(t *testing.T) {
	ctx := testCtx(t)
	store := newMemStore()
	store.fetchGate = make(chan struct{})
	f := newFixture(t, store, ServerOptions{MaxConcurrent: 1})
	data, id := shard(1, 10)
	first := make(chan error, 1)
	go func() {
		_, _, err := getAll(ctx, f, id, 0, -1)
		first <- err
	}()
	// Wait for the first request to hold the only slot.
	for inUse(f) == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("first request never started")
		case <-time.After(time.Millisecond):
		}
	}
	if _, _, err := Get(ctx, f.client, f.provider, id, 0, -1); !errors.Is(err, ErrBusy) {
		t.Errorf("Get while busy = %v, want ErrBusy", err)
	}
	if err := Put(ctx, f.client, f.provider, id, int64(len(data)), bytes.NewReader(data)); !errors.Is(err, ErrBusy) {
		t.Errorf("Put while busy = %v, want ErrBusy", err)
	}
	close(store.fetchGate)
	if err := <-first; !errors.Is(err, dsn.ErrShardNotFound) {
		t.Errorf("first Get = %v, want dsn.ErrShardNotFound", err)
	}
	if got := f.srv.Stats().Busy; got != 2 {
		t.Errorf("Stats().Busy = %d, want 2", got)
	}
}

// inUse is the number of transfer slots f's server has given out.
func inUse(f *fixture) int {
	n, _ := f.srv.slots.InUse(f.client.Self())
	return n
}

func TestUnreachable(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, newMemStore(), ServerOptions{})
	f.net.Kill(f.provider)
	data, id := shard(1, 10)
	if err := Put(ctx, f.client, f.provider, id, 10, bytes.NewReader(data)); !errors.Is(err, dsn.ErrUnreachable) {
		t.Errorf("Put to a dead peer = %v, want dsn.ErrUnreachable", err)
	}
	if _, _, err := Get(ctx, f.client, f.provider, id, 0, -1); !errors.Is(err, dsn.ErrUnreachable) {
		t.Errorf("Get from a dead peer = %v, want dsn.ErrUnreachable", err)
	}
}

func TestCodes(t *testing.T) {
	tests := []struct {
		code Code
		err  error
	}{
		{CodeNotFound, dsn.ErrShardNotFound},
		{CodeCorrupt, dsn.ErrCorruptShard},
		{CodeNoSpace, dsn.ErrNoSpace},
		{CodeBadRequest, ErrBadRequest},
		{CodeSizeMismatch, dsn.ErrShardSize},
		{CodeInternal, ErrRemoteInternal},
		{CodeBusy, ErrBusy},
		{CodeUnavailable, ErrUnavailable},
		{CodeTimeout, ErrRemoteTimeout},
		{Code(77), ErrUnknownCode},
	}
	for _, tc := range tests {
		err := remoteError(tc.code, "why")
		if !errors.Is(err, tc.err) {
			t.Errorf("remoteError(%v) = %v, want %v", tc.code, err, tc.err)
		}
	}
	stores := []struct {
		err  error
		want Code
	}{
		{nil, CodeOK},
		{dsn.ErrShardNotFound, CodeNotFound},
		{dsn.ErrCorruptShard, CodeCorrupt},
		{dsn.ErrNoSpace, CodeNoSpace},
		{dsn.ErrShardSize, CodeSizeMismatch},
		{dsn.ErrClosed, CodeUnavailable},
		{context.DeadlineExceeded, CodeTimeout},
		{os.ErrDeadlineExceeded, CodeTimeout},
		{errors.New("disk on fire"), CodeInternal},
	}
	for _, tc := range stores {
		if got := errCode(tc.err); got != tc.want {
			t.Errorf("errCode(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if got := replyText(CodeInternal, errors.New("/secret/path")); got != "" {
		t.Errorf("replyText(Internal) = %q, want no detail", got)
	}
	long := replyText(CodeCorrupt, errors.New(string(bytes.Repeat([]byte("é"), MaxTextSize))))
	if len(long) > MaxTextSize {
		t.Errorf("replyText of a long error has %d bytes, limit %d", len(long), MaxTextSize)
	}
}
