package auditproto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/dsn-project/dsn/node/p2p"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/proofs/compact"
)

func newLibp2pHost(t *testing.T) *p2p.Host {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p2p.New(testCtx(t), k, p2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("p2p.New = %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// TestOverLibp2p runs tags, both challenges and a non-owner's challenge
// over two real libp2p hosts on 127.0.0.1, where the remote peer is the
// one Noise authenticated.
func TestOverLibp2p(t *testing.T) {
	if testing.Short() {
		t.Skip("starts libp2p hosts")
	}
	ctx := testCtx(t)
	provider, owner, other := newLibp2pHost(t), newLibp2pHost(t), newLibp2pHost(t)
	for _, h := range []*p2p.Host{owner, other} {
		if err := h.Connect(ctx, provider.Addrs()[0]); err != nil {
			t.Fatalf("Connect = %v", err)
		}
	}
	store, err := shardstore.Open(t.TempDir(), shardstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// The server's reasons go to the test's log, shown if it fails.
	srv := NewServer(store, ServerOptions{Logger: slog.New(slog.NewTextHandler(newTestLog(t), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	srv.Register(provider)

	data, id := shardBytes(5, 3<<20+5)
	if err := store.ReceiveShard(ctx, id, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	key := ownerKey("owner")
	tags, err := key.Tags(id, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := PutTags(ctx, owner, provider.Self(), id, tags); err != nil {
		t.Fatalf("PutTags over libp2p = %v", err)
	}
	if r := AuditMerkle(ctx, other, provider.Self(), id, int64(len(data)), epochSeed(0), 459); r.Outcome != Pass {
		t.Errorf("AuditMerkle over libp2p = %v (%v), want Pass", r.Outcome, r.Reason)
	}
	ch := challenge(t, epochSeed(0), 459, compact.Target{ID: id, Size: int64(len(data))})
	if r := AuditCompact(ctx, owner, provider.Self(), key, ch); r.Outcome != Pass {
		t.Errorf("AuditCompact over libp2p = %v (%v), want Pass", r.Outcome, r.Reason)
	}
	if r := AuditCompact(ctx, other, provider.Self(), key, ch); r.Outcome != Fail || !errors.Is(r.Reason, ErrNoTags) {
		t.Errorf("AuditCompact by another peer over libp2p = %v (%v), want Fail with ErrNoTags", r.Outcome, r.Reason)
	}
	if _, err := store.Sidecar(ctx, id, TagsSidecar(owner.Self())); err != nil {
		t.Errorf("tags not kept under the owner's libp2p identity: %v", err)
	}
}

// testLog writes each log line to t.Log until the test's cleanups have
// run: handlers still running on the hosts' goroutines after that must not
// log to a finished test.
type testLog struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func newTestLog(t *testing.T) *testLog {
	w := &testLog{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
