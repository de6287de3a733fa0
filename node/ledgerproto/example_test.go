package ledgerproto_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/inproc"
	"github.com/dsn-project/dsn/node/ledgerproto"
)

// providerLedger is a provider's Handler over its ledger.Log. keys says
// which ledger key each peer holds: a libp2p node takes it from the peer
// ID (p2p.PublicKey).
type providerLedger struct {
	log  *ledger.Log
	key  ed25519.PrivateKey
	keys map[dsn.PeerID]ledger.PublicKey
}

func (p *providerLedger) ProposeDeal(ctx context.Context, from dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error) {
	if p.keys[from] != d.Client {
		return nil, fmt.Errorf("%w: %s is not the deal's client", ledgerproto.ErrRefused, from)
	}
	if err := d.SignProvider(p.key); err != nil {
		return nil, err
	}
	_, err := p.log.Append(d)
	return d, err
}

func (p *providerLedger) Submit(ctx context.Context, from dsn.PeerID, e ledger.Entry) error {
	if r, ok := e.(*ledger.Receipt); !ok || p.keys[from] != r.Client {
		return fmt.Errorf("%w: only clients' own receipts", ledgerproto.ErrRefused)
	}
	_, err := p.log.Append(e)
	return err
}

func (p *providerLedger) Checkpoint(ctx context.Context) ([]byte, error) {
	c, err := p.log.Checkpoint()
	return c.Note, err
}

func (p *providerLedger) ProveConsistency(ctx context.Context, o, n int64) (tlog.TreeProof, error) {
	return p.log.ProveConsistency(o, n)
}

func (p *providerLedger) ProveInclusion(ctx context.Context, i int64) (*ledger.InclusionProof, error) {
	return p.log.ProveInclusion(i)
}

func exampleKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// A client has a provider countersign a deal, sends it a receipt twice,
// and checks the provider's checkpoint.
func Example() {
	ctx := context.Background()
	ckey, pkey, akey := exampleKey("client"), exampleKey("provider"), exampleKey("auditor")
	client, provider := ledger.PublicKeyOf(ckey), ledger.PublicKeyOf(pkey)

	dir, _ := os.MkdirTemp("", "ledgerproto-example")
	defer os.RemoveAll(dir)
	log, err := ledger.Open(dir, pkey, &ledger.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer log.Close()

	net := inproc.NewNetwork()
	ct, pt := net.Add("client"), net.Add("provider")
	h := &providerLedger{log: log, key: pkey, keys: map[dsn.PeerID]ledger.PublicKey{"client": client, "provider": provider}}
	ledgerproto.NewServer(h, ledgerproto.ServerOptions{}).Register(pt)

	shard := dsn.SumShard([]byte("a shard"))
	d := &ledger.Deal{Shard: shard, Size: 1 << 20, PricePerGiBMonth: 1000, PricePerGiB: 10, Start: 0, End: 86400,
		Client: client, Provider: provider, Auditors: []ledger.PublicKey{ledger.PublicKeyOf(akey)}}
	d.SignClient(ckey)
	signed, err := ledgerproto.ProposeDeal(ctx, ct, "provider", d)
	fmt.Println("deal countersigned:", err == nil && ledger.CheckSignatures(signed) == nil)

	r := &ledger.Receipt{Provider: provider, Client: client, Shard: shard, Session: ledger.SessionID{7}, Seq: 1, Bytes: 4096}
	r.Sign(ckey)
	fmt.Println("receipt:", ledgerproto.Submit(ctx, ct, "provider", r))
	err = ledgerproto.Submit(ctx, ct, "provider", r)
	fmt.Println("again, duplicate:", errors.Is(err, ledgerproto.ErrDuplicate), "sequence:", errors.Is(err, ledger.ErrSequence))

	note, err := ledgerproto.FetchCheckpoint(ctx, ct, "provider")
	if err != nil {
		fmt.Println(err)
		return
	}
	cp, err := ledger.VerifyCheckpoint(note, provider)
	fmt.Println("provider's log:", cp.Size, "entries", err)
	// Output:
	// deal countersigned: true
	// receipt: <nil>
	// again, duplicate: true sequence: true
	// provider's log: 2 entries <nil>
}
