package auditproto

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/frame"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/proofs/compact"
)

// rawRequest sends frame bytes as they are and returns the provider's
// reply.
func rawRequest(t *testing.T, f *fixture, raw []byte) (reply, error) {
	t.Helper()
	st, err := f.third.NewStream(testCtx(t), f.provider, Protocol)
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
	return decodeReply(body)
}

// TestBadRequests: each malformed or out-of-bounds request is answered
// BadRequest, and the server goes on serving.
func TestBadRequests(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 1, 30_000)
	framed := func(m message) []byte { return frame.Append(nil, m.append(nil)) }
	body := func(b ...byte) []byte { return frame.Append(nil, b) }
	var seed [32]byte
	tgt := compact.Target{ID: id, Size: 30_000}
	tests := []struct {
		name string
		raw  []byte
	}{
		{"unknown type", body(9, 1, 2, 3)},
		{"reply as a request", framed(reply{code: CodeOK})},
		{"merkle, c = 0", framed(merkleRequest{id: id, c: 0})},
		{"merkle, c over MaxMerkleSamples", framed(merkleRequest{id: id, c: MaxMerkleSamples + 1})},
		{"merkle, trailing byte", frame.Append(nil, append(merkleRequest{id: id, c: 1}.append(nil), 0))},
		{"merkle, truncated id", body(typeMerkle, 1, 2, 3)},
		{"compact, no targets", framed(compactRequest{seed: seed, c: 1})},
		{"compact, same shard twice", framed(compactRequest{seed: seed, c: 1, targets: []compact.Target{tgt, tgt}})},
		{"compact, too many blocks", framed(compactRequest{seed: seed, c: MaxPicks, targets: []compact.Target{tgt, {ID: dsn.ShardID{1}, Size: 1}}})},
		{"compact, target of size 0", framed(compactRequest{seed: seed, c: 1, targets: []compact.Target{{ID: id, Size: 0}}})},
		{"put tags, length 0", framed(putTagsRequest{id: id, length: 0})},
		{"frame over MaxRequestSize", binary.AppendUvarint(nil, MaxRequestSize+1)},
		{"empty frame", []byte{0}},
		{"non-minimal frame length", []byte{0x81, 0x00, typeMerkle}},
	}
	for _, tc := range tests {
		rep, err := rawRequest(t, f, tc.raw)
		if err != nil || rep.code != CodeBadRequest || rep.text == "" {
			t.Errorf("request %s: reply %+v, %v; want BadRequest with a reason", tc.name, rep, err)
		}
	}
	if r := AuditMerkle(ctx, f.third, f.provider, id, 30_000, epochSeed(0), 8); r.Outcome != Pass {
		t.Errorf("AuditMerkle after bad requests = %v (%v), want Pass", r.Outcome, r.Reason)
	}
	if s := f.srv.Stats(); s.BadRequests != int64(len(tests)) || s.ChallengeErrors != int64(len(tests)) {
		t.Errorf("Stats() = %+v, want %d bad requests and challenge errors", s, len(tests))
	}
}

// gatedHolder blocks OpenShard until gate is closed, telling entered.
type gatedHolder struct {
	*shardstore.Store
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedHolder) OpenShard(ctx context.Context, id dsn.ShardID) (shardstore.ShardFile, int64, error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.Store.OpenShard(ctx, id)
}

// TestBusy: a request beyond MaxConcurrent is answered Busy at once, which
// the auditor records as Missed; the one being served still passes.
func TestBusy(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 1, 30_000)
	g := &gatedHolder{Store: f.store, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	srv := NewServer(g, ServerOptions{MaxConcurrent: 1})
	srv.Register(f.ptr)

	first := make(chan Result, 1)
	go func() { first <- AuditMerkle(ctx, f.third, f.provider, id, 30_000, epochSeed(0), 8) }()
	<-g.entered
	r := AuditMerkle(ctx, f.owner, f.provider, id, 30_000, epochSeed(1), 8)
	if r.Outcome != Missed || !errors.Is(r.Reason, ErrBusy) {
		t.Errorf("AuditMerkle while busy = %v (%v), want Missed with ErrBusy", r.Outcome, r.Reason)
	}
	close(g.gate)
	if r := <-first; r.Outcome != Pass {
		t.Errorf("AuditMerkle being served = %v (%v), want Pass", r.Outcome, r.Reason)
	}
	if s := srv.Stats(); s.Busy != 1 || s.MerkleProofs != 1 {
		t.Errorf("Stats() = %+v, want 1 busy, 1 proof", s)
	}
}

// TestUnregister: after Unregister the provider no longer answers.
func TestUnregister(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 1, 30_000)
	f.srv.Unregister(f.ptr)
	r := AuditMerkle(ctx, f.third, f.provider, id, 30_000, epochSeed(0), 8)
	if r.Outcome != Missed || !errors.Is(r.Reason, dsn.ErrProtocolNotSupported) {
		t.Errorf("AuditMerkle after Unregister = %v (%v), want Missed with dsn.ErrProtocolNotSupported", r.Outcome, r.Reason)
	}
}

// TestStoredOutboardDamaged: an outboard sidecar that does not decode or
// names another shard is rebuilt, not trusted.
func TestStoredOutboardDamaged(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 1, 100_000)
	other := f.add(t, 2, 100_000)
	if err := f.srv.Prepare(ctx, other); err != nil {
		t.Fatal(err)
	}
	foreign, err := f.store.Sidecar(ctx, other, OutboardSidecar)
	if err != nil {
		t.Fatal(err)
	}
	for i, bad := range [][]byte{{1, 2, 3}, foreign} {
		if err := f.store.PutSidecar(ctx, id, OutboardSidecar, bad); err != nil {
			t.Fatal(err)
		}
		if r := AuditMerkle(ctx, f.third, f.provider, id, 100_000, epochSeed(i), 16); r.Outcome != Pass {
			t.Errorf("AuditMerkle with damaged outboard %d = %v (%v), want Pass", i, r.Outcome, r.Reason)
		}
	}
	if n := f.srv.Stats().OutboardsBuilt; n != 3 {
		t.Errorf("OutboardsBuilt = %d, want 3 (one prepared, two rebuilt)", n)
	}
}

// TestBudget checks the deadline formula against the numbers doc.go quotes.
func TestBudget(t *testing.T) {
	var b Budget
	tests := []struct {
		name     string
		got      time.Duration
		min, max time.Duration
	}{
		{"merkle, 64 MiB, c = 459", b.Merkle(64<<20, 459), 8200 * time.Millisecond, 8300 * time.Millisecond},
		{"compact, 64 MiB, c = 459", b.Compact([]compact.Target{{Size: 64 << 20}}, 459), 6950 * time.Millisecond, 7050 * time.Millisecond},
		{"merkle, 1 KiB, c = 459: one group", b.Merkle(1024, 459), 2020 * time.Millisecond, 2030 * time.Millisecond},
		{"compact, 1 byte", b.Compact([]compact.Target{{Size: 1}}, 459), 2020 * time.Millisecond, 2030 * time.Millisecond},
	}
	for _, tc := range tests {
		if tc.got < tc.min || tc.got > tc.max {
			t.Errorf("Budget{}.%s = %v, want in [%v, %v]", tc.name, tc.got, tc.min, tc.max)
		}
	}
	fast := Budget{Base: time.Millisecond, PerRead: time.Nanosecond, ReadRate: 1 << 40, NetRate: 1 << 40}
	if got := fast.Merkle(64<<20, 459); got > 2*time.Millisecond {
		t.Errorf("fast.Merkle = %v, want about 1 ms: overrides ignored", got)
	}
}
