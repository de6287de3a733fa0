package ledgerproto

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/inproc"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("dsn ledgerproto test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const hour = 3600

// logHandler is the Handler a provider node would have, over a real
// ledger.Log: it maps peers to keys with keyOf and lets the log's rules
// decide.
type logHandler struct {
	log   *ledger.Log
	key   ed25519.PrivateKey
	keyOf func(dsn.PeerID) (ledger.PublicKey, error)
}

func (h *logHandler) ProposeDeal(ctx context.Context, from dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error) {
	k, err := h.keyOf(from)
	if err != nil {
		return nil, err
	}
	if k != d.Client {
		return nil, fmt.Errorf("%w: proposer %s is not the deal's client", ErrRefused, from)
	}
	if err := d.SignProvider(h.key); err != nil {
		return nil, err
	}
	if _, err := h.log.Append(d); err != nil {
		return nil, err
	}
	return d, nil
}

func (h *logHandler) Submit(ctx context.Context, from dsn.PeerID, e ledger.Entry) error {
	k, err := h.keyOf(from)
	if err != nil {
		return err
	}
	var signer ledger.PublicKey
	switch e := e.(type) {
	case *ledger.Receipt:
		signer = e.Client
	case *ledger.Credit:
		signer = e.Auditor
	case *ledger.Penalty:
		signer = e.Auditor
	case *ledger.End:
		signer = e.Signer
	}
	if k != signer {
		return fmt.Errorf("%w: sender %s did not sign the %s", ErrRefused, from, e.Kind())
	}
	_, err = h.log.Append(e)
	return err
}

func (h *logHandler) Checkpoint(ctx context.Context) ([]byte, error) {
	c, err := h.log.Checkpoint()
	return c.Note, err
}

func (h *logHandler) ProveConsistency(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
	return h.log.ProveConsistency(oldSize, newSize)
}

func (h *logHandler) ProveInclusion(ctx context.Context, i int64) (*ledger.InclusionProof, error) {
	return h.log.ProveInclusion(i)
}

// funcHandler answers each call with a function, for tests that need a
// handler to misbehave; a nil function panics, which the test would see.
type funcHandler struct {
	propose     func(ctx context.Context, from dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error)
	submit      func(ctx context.Context, from dsn.PeerID, e ledger.Entry) error
	checkpoint  func(ctx context.Context) ([]byte, error)
	consistency func(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error)
	inclusion   func(ctx context.Context, i int64) (*ledger.InclusionProof, error)
}

func (h funcHandler) ProposeDeal(ctx context.Context, from dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error) {
	return h.propose(ctx, from, d)
}
func (h funcHandler) Submit(ctx context.Context, from dsn.PeerID, e ledger.Entry) error {
	return h.submit(ctx, from, e)
}
func (h funcHandler) Checkpoint(ctx context.Context) ([]byte, error) { return h.checkpoint(ctx) }
func (h funcHandler) ProveConsistency(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
	return h.consistency(ctx, oldSize, newSize)
}
func (h funcHandler) ProveInclusion(ctx context.Context, i int64) (*ledger.InclusionProof, error) {
	return h.inclusion(ctx, i)
}

// errHandler fails every call with err.
func errHandler(err error) funcHandler {
	return funcHandler{
		propose:     func(context.Context, dsn.PeerID, *ledger.Deal) (*ledger.Deal, error) { return nil, err },
		submit:      func(context.Context, dsn.PeerID, ledger.Entry) error { return err },
		checkpoint:  func(context.Context) ([]byte, error) { return nil, err },
		consistency: func(context.Context, int64, int64) (tlog.TreeProof, error) { return nil, err },
		inclusion:   func(context.Context, int64) (*ledger.InclusionProof, error) { return nil, err },
	}
}

// fixture is a provider serving its ledger, a client, an auditor and a
// stranger, over the in-process transport. Peer names are the parties'
// names; keys are derived from them.
type fixture struct {
	net                       *inproc.Network
	client, auditor, stranger *inproc.Transport
	ptr                       *inproc.Transport
	provider                  dsn.PeerID
	log                       *ledger.Log
	srv                       *Server
	keys                      map[dsn.PeerID]ed25519.PrivateKey
	shard                     dsn.ShardID
}

func (f *fixture) pub(p dsn.PeerID) ledger.PublicKey { return ledger.PublicKeyOf(f.keys[p]) }

func newFixture(t testing.TB, opts ServerOptions) *fixture {
	t.Helper()
	n := inproc.NewNetwork()
	f := &fixture{net: n, provider: "provider", keys: map[dsn.PeerID]ed25519.PrivateKey{}, shard: dsn.SumShard([]byte("a shard"))}
	for _, name := range []dsn.PeerID{"provider", "client", "auditor", "stranger"} {
		f.keys[name] = testKey(string(name))
	}
	f.client, f.auditor, f.stranger, f.ptr = n.Add("client"), n.Add("auditor"), n.Add("stranger"), n.Add(f.provider)
	l, err := ledger.Open(t.TempDir(), f.keys[f.provider], &ledger.Options{Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	t.Cleanup(func() { l.Close() })
	f.log = l
	h := &logHandler{log: l, key: f.keys[f.provider], keyOf: func(p dsn.PeerID) (ledger.PublicKey, error) {
		k, ok := f.keys[p]
		if !ok {
			return ledger.PublicKey{}, fmt.Errorf("%w: unknown peer %s", ErrRefused, p)
		}
		return ledger.PublicKeyOf(k), nil
	}}
	f.srv = NewServer(h, opts)
	f.srv.Register(f.ptr)
	return f
}

// deal is a deal for shard between the fixture's client and provider over
// [from, to), audited by the auditor, signed by the client only.
func (f *fixture) deal(t testing.TB, shard dsn.ShardID, from, to uint64) *ledger.Deal {
	t.Helper()
	d := &ledger.Deal{
		Shard: shard, Size: 1 << 20, PricePerGiBMonth: 1_000_000, PricePerGiB: 10_000, Collateral: 2_000_000,
		Start: from, End: to, Client: f.pub("client"), Provider: f.pub("provider"),
		Auditors: []ledger.PublicKey{f.pub("auditor")},
	}
	must(t, d.SignClient(f.keys["client"]))
	return d
}

func (f *fixture) receipt(t testing.TB, shard dsn.ShardID, session byte, seq, n uint64) *ledger.Receipt {
	t.Helper()
	r := &ledger.Receipt{Provider: f.pub("provider"), Client: f.pub("client"), Shard: shard, Session: ledger.SessionID{session}, Seq: seq, Bytes: n}
	must(t, r.Sign(f.keys["client"]))
	return r
}

func (f *fixture) credit(t testing.TB, epoch uint64, signer dsn.PeerID) *ledger.Credit {
	t.Helper()
	c := &ledger.Credit{Provider: f.pub("provider"), Client: f.pub("client"), Auditor: f.pub(signer), Shard: f.shard, Epoch: epoch, EpochSeconds: hour, Bytes: 1 << 20}
	must(t, c.Sign(f.keys[signer]))
	return c
}

func (f *fixture) penalty(t testing.TB, epoch uint64) *ledger.Penalty {
	t.Helper()
	// Every deal of the fixture has the same terms: the penalty they give.
	amount := ledger.PenaltyAmount(f.deal(t, f.shard, 0, hour), hour)
	p := &ledger.Penalty{Provider: f.pub("provider"), Client: f.pub("client"), Auditor: f.pub("auditor"), Shard: f.shard, Epoch: epoch, EpochSeconds: hour, Outcome: ledger.OutcomeMissed, Amount: amount}
	must(t, p.Sign(f.keys["auditor"]))
	return p
}

func (f *fixture) end(t testing.TB, d *ledger.Deal, at uint64, reason ledger.EndReason, forfeit uint64, signer dsn.PeerID) *ledger.End {
	t.Helper()
	e := &ledger.End{Shard: d.Shard, Client: d.Client, Provider: d.Provider, Signer: f.pub(signer), Start: d.Start, At: at, Reason: reason, Forfeit: forfeit}
	must(t, e.Sign(f.keys[signer]))
	return e
}

// withDeal has the provider countersign and log a deal for f.shard over
// epochs [10, 100) of an hour, and returns it.
func (f *fixture) withDeal(t testing.TB) *ledger.Deal {
	t.Helper()
	d, err := ProposeDeal(testCtx(t), f.client, f.provider, f.deal(t, f.shard, 10*hour, 100*hour))
	if err != nil {
		t.Fatalf("ProposeDeal = %v", err)
	}
	return d
}

// waitFor waits until cond holds, failing the test after a few seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	dl := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(dl) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
