package p2p

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/transporttest"
)

const (
	tcpLoopback  = "/ip4/127.0.0.1/tcp/0"
	quicLoopback = "/ip4/127.0.0.1/udp/0/quic-v1"
)

// testWait bounds every wait in these tests; nothing should come close.
const testWait = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	t.Cleanup(cancel)
	return ctx
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newHost starts a host on 127.0.0.1 that is closed when the test ends.
func newHost(t *testing.T, cfg Config) *Host {
	t.Helper()
	if len(cfg.ListenAddrs) == 0 {
		cfg.ListenAddrs = []string{tcpLoopback, quicLoopback}
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	h, err := New(testCtx(t), newKey(t), cfg)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func connect(t *testing.T, a, b *Host) {
	t.Helper()
	if err := a.Connect(testCtx(t), b.Addrs()[0]); err != nil {
		t.Fatalf("Connect(%s) = %v", b.Addrs()[0], err)
	}
}

func TestTransportTCP(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) (dsn.Transport, dsn.Transport) {
		a := newHost(t, Config{ListenAddrs: []string{tcpLoopback}})
		b := newHost(t, Config{ListenAddrs: []string{tcpLoopback}})
		connect(t, a, b)
		return a, b
	})
}

func TestTransportQUIC(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) (dsn.Transport, dsn.Transport) {
		a := newHost(t, Config{ListenAddrs: []string{quicLoopback}})
		b := newHost(t, Config{ListenAddrs: []string{quicLoopback}})
		connect(t, a, b)
		return a, b
	})
}

func TestNewStreamUnreachable(t *testing.T) {
	a := newHost(t, Config{ListenAddrs: []string{tcpLoopback}})
	b := newHost(t, Config{ListenAddrs: []string{tcpLoopback}})
	bID, bAddr := b.Self(), b.Addrs()[0]
	if err := b.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	// a knows where b was, but b is gone.
	_ = a.Connect(testCtx(t), bAddr)
	_, err := a.NewStream(testCtx(t), bID, "/dsn/test/echo/1.0.0")
	if !errors.Is(err, dsn.ErrUnreachable) {
		t.Errorf("NewStream(closed peer) = %v, want dsn.ErrUnreachable", err)
	}
	// A peer nobody has an address for.
	_, err = a.NewStream(testCtx(t), newHostID(t), "/dsn/test/echo/1.0.0")
	if !errors.Is(err, dsn.ErrUnreachable) {
		t.Errorf("NewStream(unknown peer) = %v, want dsn.ErrUnreachable", err)
	}
	if _, err := a.NewStream(testCtx(t), a.Self(), "/dsn/test/echo/1.0.0"); !errors.Is(err, dsn.ErrUnreachable) {
		t.Errorf("NewStream(self) = %v, want dsn.ErrUnreachable", err)
	}
}

func newHostID(t *testing.T) dsn.PeerID {
	t.Helper()
	id, err := peerIDOf(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return id
}
