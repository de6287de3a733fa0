package node

import (
	"context"
	"testing"
	"time"

	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/proofs/compact"
)

func startLedgerNet(t *testing.T, n int, libp2p bool) *LocalNetwork {
	t.Helper()
	l, err := StartLocalNetwork(context.Background(), t.TempDir(), n, LocalOptions{
		Ledger: true, Libp2p: libp2p,
		Client: ClientOptions{ShardTimeout: 20 * time.Second, ProofKey: compact.NewKey([32]byte{3})},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// account returns p's account as the log of b's owner sees it.
func account(t *testing.T, log *ledger.Log, p ledger.PublicKey) ledger.Account {
	t.Helper()
	accts, err := log.Balance()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		if a.Party == p {
			return a
		}
	}
	return ledger.Account{Party: p}
}

// A store makes a deal per shard in both parties' ledgers; a retrieval
// pays its providers with receipts; audits settle into credits and
// penalties; every ledger verifies.
func TestLedgerAcrossStoreRetrieveAudit(t *testing.T) {
	for _, libp2p := range []bool{false, true} {
		name := "inproc"
		if libp2p {
			name = "libp2p"
		}
		t.Run(name, func(t *testing.T) {
			l := startLedgerNet(t, 6, libp2p)
			ctx := ctxT(t)
			data := testData(3<<20+5, 11)
			res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2})
			m := res.Manifest
			shards := len(m.Segments) * (m.K + m.M)
			if got := l.ClientBook.Log().Size(); got != int64(shards) {
				t.Fatalf("client ledger holds %d entries after storing %d shards, want one deal each", got, shards)
			}
			held := map[string]int64{}
			for _, p := range l.Providers {
				held[l.Name(p.ID)] = p.Book.Log().Size()
			}

			got, err := retrieveBytes(t, l, res.Reference)
			if err != nil || string(got) != string(data) {
				t.Fatalf("retrieve: %v", err)
			}
			var served uint64
			for _, p := range l.Providers {
				a := account(t, p.Book.Log(), p.Book.Self())
				served += a.BytesServed
				if a.BytesServed > 0 && a.BandwidthEarned == 0 {
					t.Errorf("%s served %d bytes and earned nothing", l.Name(p.ID), a.BytesServed)
				}
			}
			// At least k shards of each segment are fetched in full, each
			// receipted; at most all k+m.
			var least, most uint64
			for i := range m.Segments {
				least += uint64(m.K) * uint64(m.ShardSize(i))
				most += uint64(m.K+m.M) * uint64(m.ShardSize(i))
			}
			if served < least || served > most {
				t.Errorf("receipts for %d bytes served, want %d to %d", served, least, most)
			}

			// Epochs of a day, so that what is earned for half-MiB shards
			// is not rounded to nothing; the next day, which the deals
			// cover entirely: every shard passes.
			const day = 86400
			epoch := uint64(time.Now().Unix())/day + 1
			audits, err := l.Client.AuditFile(ctx, m, SchemeCompact, []byte("epoch"))
			if err != nil {
				t.Fatal(err)
			}
			n, err := l.Client.Settle(ctx, epoch, day, audits)
			if err != nil || n != shards {
				t.Fatalf("Settle = %d, %v; want %d credits", n, err, shards)
			}
			// Settling the same epoch again is refused by every ledger.
			if n, err := l.Client.Settle(ctx, epoch, day, audits); err == nil || n != 0 {
				t.Errorf("settling an epoch twice = %d, %v; want a refusal", n, err)
			}
			// A provider that misses the next epoch pays a penalty.
			miss := audits[0]
			miss.Outcome, miss.Reason = auditproto.Missed, nil
			if n, err := l.Client.Settle(ctx, epoch+1, day, []ShardAudit{miss}); err != nil || n != 1 {
				t.Fatalf("Settle(missed) = %d, %v", n, err)
			}
			var space, penalties uint64
			for _, p := range l.Providers {
				a := account(t, p.Book.Log(), p.Book.Self())
				space += a.SpaceEarned
				penalties += a.Penalties
				if _, err := p.Book.Log().Verify(ctx); err != nil {
					t.Errorf("%s's ledger does not verify: %v", l.Name(p.ID), err)
				}
			}
			if space == 0 || penalties == 0 {
				t.Errorf("providers earned %d for space and paid %d in penalties; want both > 0", space, penalties)
			}
			// The client's own ledger agrees on what it owes for space.
			var owed uint64
			for _, a := range mustBalance(t, l.ClientBook.Log()) {
				owed += a.SpaceOwed
			}
			if owed != space {
				t.Errorf("client owes %d for space, providers earned %d", owed, space)
			}
			if _, err := l.ClientBook.Log().Verify(ctx); err != nil {
				t.Errorf("client ledger does not verify: %v", err)
			}
		})
	}
}

func mustBalance(t *testing.T, log *ledger.Log) []ledger.Account {
	t.Helper()
	a, err := log.Balance()
	if err != nil {
		t.Fatal(err)
	}
	return a
}
