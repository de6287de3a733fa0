package ledgerproto

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/frame"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/inproc"
)

// rawRequest sends frame bytes as they are and returns the server's reply.
func rawRequest(t *testing.T, tr dsn.Transport, p dsn.PeerID, raw []byte) (reply, error) {
	t.Helper()
	st, err := tr.NewStream(testCtx(t), p, Protocol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = st.Write(raw)
	_ = st.CloseWrite()
	body, err := readFrame(st, MaxReplySize)
	if err != nil {
		return reply{}, err
	}
	return decodeReply(body, MaxPayloadSize)
}

// TestBadRequests: each malformed or out-of-bounds request is answered
// BadRequest with a reason, the handler never sees it, and the server
// goes on serving.
func TestBadRequests(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	d := f.withDeal(t)
	deal, err := ledger.Marshal(d)
	must(t, err)
	receipt, err := ledger.Marshal(f.receipt(t, f.shard, 1, 1, 10))
	must(t, err)
	framed := func(m message) []byte { return frame.Append(nil, m.append(nil)) }
	body := func(b ...byte) []byte { return frame.Append(nil, b) }
	bigEntry := append([]byte{ledger.Version, byte(ledger.KindDeal)}, make([]byte, ledger.MaxEntrySize)...)
	tests := []struct {
		name string
		raw  []byte
	}{
		{"unknown type", body(9, 1, 2, 3)},
		{"type 0", body(0)},
		{"reply as a request", framed(reply{code: CodeOK})},
		{"empty entry", framed(entryRequest{typ: typeSubmit})},
		{"entry over MaxEntrySize", framed(entryRequest{typ: typeProposeDeal, entry: bigEntry[:ledger.MaxEntrySize+1]})},
		{"entry length past the body", body(typeSubmit, 10, 1, 2)},
		{"garbage entry", framed(entryRequest{typ: typeSubmit, entry: []byte{1, 2, 3, 4, 5}})},
		{"entry of another version", framed(entryRequest{typ: typeSubmit, entry: append([]byte{9}, receipt[1:]...)})},
		{"receipt with a trailing byte", framed(entryRequest{typ: typeSubmit, entry: append(receipt[:len(receipt):len(receipt)], 0)})},
		{"deal submitted", framed(entryRequest{typ: typeSubmit, entry: deal})},
		{"receipt proposed as a deal", framed(entryRequest{typ: typeProposeDeal, entry: receipt})},
		{"checkpoint with a trailing byte", body(typeGetCheckpoint, 0)},
		{"consistency, old above new", framed(consistencyRequest{oldSize: 5, newSize: 4})},
		{"consistency, new above MaxIndex", framed(consistencyRequest{oldSize: 0, newSize: MaxIndex + 1})},
		{"consistency, truncated", body(typeProveConsistency, 1)},
		{"inclusion, index MaxIndex", framed(inclusionRequest{index: MaxIndex})},
		{"inclusion, non-minimal index", body(typeProveInclusion, 0x81, 0x00)},
		{"frame over MaxRequestSize", binary.AppendUvarint(nil, MaxRequestSize+1)},
		{"empty frame", []byte{0}},
		{"non-minimal frame length", []byte{0x81, 0x00, typeGetCheckpoint}},
	}
	size := f.log.Size()
	for _, tc := range tests {
		rep, err := rawRequest(t, f.stranger, f.provider, tc.raw)
		if err != nil || rep.code != CodeBadRequest || rep.text == "" || rep.payload != nil {
			t.Errorf("request %s: reply %+v, %v; want BadRequest with a reason", tc.name, rep, err)
		}
	}
	if n := f.log.Size(); n != size {
		t.Errorf("log grew from %d to %d entries on bad requests", size, n)
	}
	if s := f.srv.Stats(); s.BadRequests != int64(len(tests)) || s.Errors != int64(len(tests)) {
		t.Errorf("Stats() = %+v, want %d bad requests and errors", s, len(tests))
	}
	if _, err := FetchCheckpoint(ctx, f.stranger, f.provider); err != nil {
		t.Errorf("FetchCheckpoint after bad requests = %v", err)
	}
	if err := Submit(ctx, f.client, f.provider, f.receipt(t, f.shard, 1, 1, 10)); err != nil {
		t.Errorf("Submit after bad requests = %v", err)
	}
}

// TestCodes: every handler error the protocol names reaches the client as
// its code and matches the documented sentinels there; an error of the
// handler's own is Internal and its text stays home.
func TestCodes(t *testing.T) {
	tests := []struct {
		err  error
		code Code
		want []error
	}{
		{fmt.Errorf("%w: price too low", ErrRefused), CodeRefused, []error{ErrRefused}},
		{fmt.Errorf("check: %w", ledger.ErrBadSignature), CodeBadSignature, []error{ErrRefused, ledger.ErrBadSignature}},
		{fmt.Errorf("sign: %w", ledger.ErrWrongKey), CodeBadSignature, []error{ErrRefused, ledger.ErrBadSignature}},
		{ledger.ErrNoDeal, CodeNoDeal, []error{ErrRefused, ledger.ErrNoDeal}},
		{ledger.ErrDuplicateOutcome, CodeDuplicate, []error{ErrRefused, ErrDuplicate, ledger.ErrDuplicateOutcome}},
		{ledger.ErrSequence, CodeSequence, []error{ErrRefused, ErrDuplicate, ledger.ErrSequence}},
		{ledger.ErrNotFound, CodeNotFound, []error{ledger.ErrNotFound}},
		{ledger.ErrDealOverlap, CodeDealOverlap, []error{ErrRefused, ledger.ErrDealOverlap}},
		{ledger.ErrSelfDealing, CodeSelfDealing, []error{ErrRefused, ledger.ErrSelfDealing}},
		{ledger.ErrNotParty, CodeNotParty, []error{ErrRefused, ledger.ErrNotParty}},
		{ledger.ErrNotAuditor, CodeNotAuditor, []error{ErrRefused, ledger.ErrNotAuditor}},
		{ledger.ErrTerms, CodeTerms, []error{ErrRefused, ledger.ErrTerms}},
		{ledger.ErrBytesDecreased, CodeBytesDecreased, []error{ErrRefused, ledger.ErrBytesDecreased}},
		{ledger.ErrSessionMismatch, CodeSessionMismatch, []error{ErrRefused, ledger.ErrSessionMismatch}},
		{ledger.ErrClosed, CodeUnavailable, []error{ErrUnavailable}},
		{ledger.ErrDealEnded, CodeDealEnded, []error{ErrRefused, ledger.ErrDealEnded}},
		{fmt.Errorf("%w: entry", ledger.ErrMalformed), CodeBadRequest, []error{ErrBadRequest}},
		{context.DeadlineExceeded, CodeTimeout, []error{ErrRemoteTimeout}},
		{errors.New("disk /secret/path failed"), CodeInternal, []error{ErrRemoteInternal}},
	}
	for _, tc := range tests {
		n := inproc.NewNetwork()
		c, s := n.Add("c"), n.Add("s")
		NewServer(errHandler(tc.err), ServerOptions{}).Register(s)
		_, err := FetchCheckpoint(testCtx(t), c, "s")
		if err == nil {
			t.Errorf("handler error %v: FetchCheckpoint = nil", tc.err)
			continue
		}
		if !strings.Contains(err.Error(), "remote "+tc.code.String()) {
			t.Errorf("handler error %v: client error %q, want code %v", tc.err, err, tc.code)
		}
		for _, w := range tc.want {
			if !errors.Is(err, w) {
				t.Errorf("handler error %v: client error %v does not match %v", tc.err, err, w)
			}
		}
		if tc.code == CodeInternal && strings.Contains(err.Error(), "secret") {
			t.Errorf("Internal reply carries the handler's text: %v", err)
		}
		if tc.code != CodeInternal && tc.code != CodeTimeout && !strings.Contains(err.Error(), tc.err.Error()) {
			t.Errorf("handler error %v: client error %q lacks its text", tc.err, err)
		}
	}
}

// TestCodeString covers every code once, and an unknown one.
func TestCodeString(t *testing.T) {
	for c := CodeOK; c <= CodeDealEnded; c++ {
		if strings.HasPrefix(c.String(), "Code(") {
			t.Errorf("Code(%d) has no name", uint64(c))
		}
		if err := codeErr(c); (err == nil) != (c == CodeOK) || errors.Is(err, ErrUnknownCode) {
			t.Errorf("codeErr(%v) = %v, want a sentinel", c, err)
		}
	}
	if s := Code(20).String(); s != "Code(20)" {
		t.Errorf("Code(20).String() = %q", s)
	}
	if err := codeErr(20); !errors.Is(err, ErrUnknownCode) {
		t.Errorf("codeErr(20) = %v, want ErrUnknownCode", err)
	}
}

// gate makes a Checkpoint handler that blocks until release is closed,
// telling entered when it starts.
func gate(note []byte) (funcHandler, chan struct{}, chan struct{}) {
	entered, release := make(chan struct{}, 16), make(chan struct{})
	h := errHandler(errors.New("unused"))
	h.checkpoint = func(ctx context.Context) ([]byte, error) {
		entered <- struct{}{}
		select {
		case <-release:
			return note, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return h, entered, release
}

// TestBusy: beyond MaxConcurrent a request is answered Busy at once, and
// the one being served completes.
func TestBusy(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	cp, err := f.log.Checkpoint()
	must(t, err)
	h, entered, release := gate(cp.Note)
	srv := NewServer(h, ServerOptions{MaxConcurrent: 1})
	srv.Register(f.ptr)

	var wg sync.WaitGroup
	var first error
	wg.Go(func() { _, first = FetchCheckpoint(ctx, f.client, f.provider) })
	<-entered
	_, err = FetchCheckpoint(ctx, f.stranger, f.provider)
	if !errors.Is(err, ErrBusy) || errors.Is(err, ErrRefused) {
		t.Errorf("FetchCheckpoint at MaxConcurrent = %v, want ErrBusy", err)
	}
	close(release)
	wg.Wait()
	if first != nil {
		t.Errorf("FetchCheckpoint being served = %v", first)
	}
	if _, err := FetchCheckpoint(ctx, f.stranger, f.provider); err != nil {
		t.Errorf("FetchCheckpoint after the slot freed = %v", err)
	}
	waitFor(t, "Stats() to show 1 busy and 2 checkpoints", func() bool {
		s := srv.Stats()
		return s.Busy == 1 && s.Checkpoints == 2
	})
}

// TestServerHangs: a server that reads the request and never answers
// costs the client its Timeout, no more, and the error says so.
func TestServerHangs(t *testing.T) {
	n := inproc.NewNetwork()
	c, s := n.Add("c"), n.Add("s")
	done := make(chan struct{})
	defer close(done)
	s.SetStreamHandler(Protocol, func(st dsn.Stream) {
		_, _ = readFrame(st, MaxRequestSize)
		<-done
		_ = st.Reset()
	})
	cl := Client{Timeout: 50 * time.Millisecond}
	_, err := cl.FetchInclusion(testCtx(t), c, "s", 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("FetchInclusion from a silent server = %v, want context.DeadlineExceeded", err)
	}
	// The caller's ctx deadline wins when it is sooner.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := Submit(ctx, c, "s", &ledger.Receipt{}); err == nil {
		t.Errorf("Submit of an invalid receipt = nil")
	}
	_, err = FetchCheckpoint(ctx, c, "s")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("FetchCheckpoint under a short ctx = %v, want context.DeadlineExceeded", err)
	}
}

// TestClientHangs: a peer that sends half a request and waits is cut off
// at the server's Timeout, and the server goes on serving.
func TestClientHangs(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	srv := NewServer(errHandler(errors.New("unused")), ServerOptions{Timeout: 50 * time.Millisecond})
	srv.Register(f.ptr)
	st, err := f.stranger.NewStream(ctx, f.provider, Protocol)
	must(t, err)
	defer st.Reset()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	full := frame.Append(nil, consistencyRequest{oldSize: 1, newSize: 2}.append(nil))
	if _, err := st.Write(full[:2]); err != nil {
		t.Fatal(err)
	}
	var one [1]byte
	_, err = st.Read(one[:])
	if err == nil || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "deadline") {
		t.Errorf("read from a server given half a request = %v, want the stream cut off by the server", err)
	}
	waitFor(t, "the server to count the broken request", func() bool { return srv.Stats().Errors == 1 })

	// A handler that runs out of time is answered Timeout.
	srv = NewServer(funcHandler{checkpoint: func(ctx context.Context) ([]byte, error) {
		<-ctx.Done()
		return nil, fmt.Errorf("checkpoint: %w", ctx.Err())
	}}, ServerOptions{Timeout: 100 * time.Millisecond})
	srv.Register(f.ptr)
	if _, err := FetchCheckpoint(ctx, f.client, f.provider); !errors.Is(err, ErrRemoteTimeout) {
		t.Errorf("FetchCheckpoint from a handler out of time = %v, want ErrRemoteTimeout", err)
	}
}

// TestCountersignature: a deal that comes back other than proposed, or
// not validly signed by the deal's provider, is refused by the client.
func TestCountersignature(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	honest := func(d *ledger.Deal) *ledger.Deal {
		must(t, d.SignProvider(f.keys["provider"]))
		return d
	}
	tests := []struct {
		name string
		do   func(d *ledger.Deal) *ledger.Deal
		want error
	}{
		{"signed by another key", func(d *ledger.Deal) *ledger.Deal {
			other := *d
			other.Provider = f.pub("stranger")
			must(t, other.SignProvider(f.keys["stranger"]))
			d.ProviderSig = other.ProviderSig
			return d
		}, ledger.ErrBadSignature},
		{"not signed", func(d *ledger.Deal) *ledger.Deal { return d }, ledger.ErrBadSignature},
		{"signature bit flipped", func(d *ledger.Deal) *ledger.Deal { d = honest(d); d.ProviderSig[7] ^= 1; return d }, ledger.ErrBadSignature},
		{"price raised and signed", func(d *ledger.Deal) *ledger.Deal { d.PricePerGiBMonth++; return honest(d) }, ErrDealChanged},
		{"end moved and signed", func(d *ledger.Deal) *ledger.Deal { d.End += hour; return honest(d) }, ErrDealChanged},
		{"auditor dropped and signed", func(d *ledger.Deal) *ledger.Deal {
			d.Auditors = []ledger.PublicKey{f.pub("client")}
			return honest(d)
		}, ErrDealChanged},
		{"provider swapped for the signer", func(d *ledger.Deal) *ledger.Deal {
			d.Provider = f.pub("stranger")
			must(t, d.SignProvider(f.keys["stranger"]))
			return d
		}, ErrDealChanged},
		{"client signature altered", func(d *ledger.Deal) *ledger.Deal { d = honest(d); d.ClientSig[0] ^= 1; return d }, ErrDealChanged},
	}
	for _, tc := range tests {
		h := errHandler(errors.New("unused"))
		h.propose = func(_ context.Context, _ dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error) { return tc.do(d), nil }
		NewServer(h, ServerOptions{}).Register(f.ptr)
		got, err := ProposeDeal(ctx, f.client, f.provider, f.deal(t, f.shard, 10*hour, 100*hour))
		if !errors.Is(err, tc.want) || got != nil {
			t.Errorf("%s: ProposeDeal = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	// The honest answer passes the same checks.
	h := errHandler(errors.New("unused"))
	h.propose = func(_ context.Context, _ dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error) { return honest(d), nil }
	NewServer(h, ServerOptions{}).Register(f.ptr)
	if _, err := ProposeDeal(ctx, f.client, f.provider, f.deal(t, f.shard, 10*hour, 100*hour)); err != nil {
		t.Errorf("ProposeDeal answered honestly = %v", err)
	}
}

// TestBadAnswers: replies a client must not accept, from a server that
// writes whatever it likes.
func TestBadAnswers(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	cp, err := f.log.Checkpoint()
	must(t, err)
	other, err := ledger.Open(t.TempDir(), f.keys["stranger"], nil)
	must(t, err)
	defer other.Close()
	send := func(raw []byte) {
		f.ptr.SetStreamHandler(Protocol, func(st dsn.Stream) {
			_, _ = readFrame(st, MaxRequestSize)
			_, _ = st.Write(raw)
			_ = st.Close()
		})
	}
	ok := func(payload []byte) []byte {
		return frame.Append(nil, reply{code: CodeOK, payload: payload}.append(nil))
	}
	tampered := append([]byte(nil), cp.Note...)
	tampered[len(tampered)-3] ^= 1
	tests := []struct {
		name  string
		raw   []byte
		fetch func() error
		want  error
	}{
		{"checkpoint over the bound", ok(make([]byte, ledger.MaxCheckpointSize+1)),
			func() error { _, err := FetchCheckpoint(ctx, f.client, f.provider); return err }, ErrMalformed},
		{"checkpoint with a bad signature", ok(tampered),
			func() error { _, err := FetchCheckpoint(ctx, f.client, f.provider); return err }, ledger.ErrCheckpoint},
		{"empty checkpoint", ok(nil),
			func() error { _, err := FetchCheckpoint(ctx, f.client, f.provider); return err }, ErrMalformed},
		{"payload on Submit", ok([]byte{1}),
			func() error { return Submit(ctx, f.client, f.provider, f.receipt(t, f.shard, 1, 1, 1)) }, ErrMalformed},
		{"tree proof with trailing bytes", ok([]byte{1, 0}),
			func() error { _, err := FetchConsistency(ctx, f.client, f.provider, 1, 2); return err }, ErrMalformed},
		{"inclusion proof for another index", ok(inclusionBytes(t, other, f)),
			func() error { _, err := FetchInclusion(ctx, f.client, f.provider, 5); return err }, ErrWrongEntry},
		{"error code with a payload", append(binary.AppendUvarint(nil, 5), typeReply, byte(CodeNotFound), 0, 1, 9),
			func() error { _, err := FetchInclusion(ctx, f.client, f.provider, 0); return err }, ErrMalformed},
		{"unknown code", frame.Append(nil, reply{code: 99}.append(nil)),
			func() error { _, err := FetchInclusion(ctx, f.client, f.provider, 0); return err }, ErrUnknownCode},
		{"reply cut short", ok(cp.Note)[:20],
			func() error { _, err := FetchCheckpoint(ctx, f.client, f.provider); return err }, ErrMalformed},
		{"receipt as the countersigned deal", ok(mustMarshal(t, f.receipt(t, f.shard, 1, 1, 1))),
			func() error {
				_, err := ProposeDeal(ctx, f.client, f.provider, f.deal(t, f.shard, 10*hour, 100*hour))
				return err
			}, ErrMalformed},
	}
	for _, tc := range tests {
		send(tc.raw)
		if err := tc.fetch(); !errors.Is(err, tc.want) {
			t.Errorf("%s: client error %v, want %v", tc.name, err, tc.want)
		}
	}
}

func mustMarshal(t testing.TB, e ledger.Entry) []byte {
	t.Helper()
	b, err := ledger.Marshal(e)
	must(t, err)
	return b
}

// inclusionBytes is an encoded inclusion proof of entry 0 of a log that
// holds one deal.
func inclusionBytes(t testing.TB, l *ledger.Log, f *fixture) []byte {
	t.Helper()
	d := &ledger.Deal{Shard: f.shard, Size: 1, Start: 1, End: 2, Client: f.pub("client"), Provider: f.pub("stranger"), Auditors: []ledger.PublicKey{f.pub("auditor")}}
	must(t, d.SignClient(f.keys["client"]))
	must(t, d.SignProvider(f.keys["stranger"]))
	_, err := l.Append(d)
	must(t, err)
	p, err := l.ProveInclusion(0)
	must(t, err)
	b, err := p.MarshalBinary()
	must(t, err)
	return b
}
