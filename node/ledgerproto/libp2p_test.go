package ledgerproto

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/p2p"
)

// newLibp2pHost starts a host on 127.0.0.1 and returns it with its
// identity key as a ledger signing key: one key is both.
func newLibp2pHost(t *testing.T) (*p2p.Host, ed25519.PrivateKey) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	must(t, err)
	raw, err := k.Raw()
	must(t, err)
	h, err := p2p.New(testCtx(t), k, p2p.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("p2p.New = %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h, ed25519.PrivateKey(raw)
}

// TestOverLibp2p: a client proposes a deal and submits a receipt to a
// provider over real libp2p hosts, the provider's handler telling parties
// apart by the keys their Noise-authenticated peer IDs embed; a third
// host fetches and checks the provider's checkpoint and a proof.
func TestOverLibp2p(t *testing.T) {
	if testing.Short() {
		t.Skip("starts libp2p hosts")
	}
	ctx := testCtx(t)
	provider, pkey := newLibp2pHost(t)
	client, ckey := newLibp2pHost(t)
	other, okey := newLibp2pHost(t)
	for _, h := range []*p2p.Host{client, other} {
		if err := h.Connect(ctx, provider.Addrs()[0]); err != nil {
			t.Fatalf("Connect = %v", err)
		}
	}
	l, err := ledger.Open(t.TempDir(), pkey, &ledger.Options{Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	t.Cleanup(func() { l.Close() })
	NewServer(&logHandler{log: l, key: pkey, keyOf: func(p dsn.PeerID) (ledger.PublicKey, error) {
		k, err := p2p.PublicKey(p)
		if err != nil {
			return ledger.PublicKey{}, err
		}
		return ledger.PublicKey(k), nil
	}}, ServerOptions{}).Register(provider)

	shard := dsn.SumShard([]byte("over libp2p"))
	d := &ledger.Deal{Shard: shard, Size: 1 << 20, PricePerGiBMonth: 5, PricePerGiB: 1, Start: 0, End: 100 * hour,
		Client: ledger.PublicKeyOf(ckey), Provider: ledger.PublicKeyOf(pkey), Auditors: []ledger.PublicKey{ledger.PublicKeyOf(okey)}}
	must(t, d.SignClient(ckey))
	if _, err := ProposeDeal(ctx, client, provider.Self(), d); err != nil {
		t.Fatalf("ProposeDeal over libp2p = %v", err)
	}
	r := &ledger.Receipt{Provider: d.Provider, Client: d.Client, Shard: shard, Session: ledger.SessionID{1}, Seq: 1, Bytes: 1 << 20}
	must(t, r.Sign(ckey))
	if err := Submit(ctx, client, provider.Self(), r); err != nil {
		t.Fatalf("Submit over libp2p = %v", err)
	}
	// The same receipt from a peer that did not sign it is refused.
	if err := Submit(ctx, other, provider.Self(), r); !errors.Is(err, ErrRefused) {
		t.Errorf("Submit of the client's receipt by another host = %v, want ErrRefused", err)
	}
	note, err := FetchCheckpoint(ctx, other, provider.Self())
	if err != nil {
		t.Fatalf("FetchCheckpoint over libp2p = %v", err)
	}
	pub, err := p2p.PublicKey(provider.Self())
	must(t, err)
	if cp, err := ledger.VerifyCheckpoint(note, ledger.PublicKey(pub)); err != nil || cp.Size != 2 {
		t.Fatalf("VerifyCheckpoint(fetched over libp2p) = size %d, %v; want 2", cp.Size, err)
	}
	p, err := FetchInclusion(ctx, other, provider.Self(), 1)
	if err != nil {
		t.Fatalf("FetchInclusion over libp2p = %v", err)
	}
	if _, _, err := ledger.CheckInclusion(p, ledger.PublicKey(pub)); err != nil {
		t.Errorf("CheckInclusion(fetched over libp2p) = %v", err)
	}
}
