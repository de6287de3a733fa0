package node

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/market"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/node/book"
	"github.com/dsn-project/dsn/proofs/compact"
)

func startLedgerNet(t *testing.T, n int, libp2p bool) *LocalNetwork {
	t.Helper()
	return startLedgerNetWith(t, n, libp2p, nil)
}

// startLedgerNetWith is startLedgerNet with the client's view of the
// market.
func startLedgerNetWith(t *testing.T, n int, libp2p bool, m Market) *LocalNetwork {
	t.Helper()
	l, err := StartLocalNetwork(context.Background(), t.TempDir(), n, LocalOptions{
		Ledger: true, Libp2p: libp2p,
		Client: ClientOptions{ShardTimeout: 20 * time.Second, ProofKey: compact.NewKey([32]byte{3}), Market: m},
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

// day is the epoch length of the settling tests: long enough that what is
// earned for half-MiB shards is not rounded to nothing.
const day = 86400

// storeProven stores data at 4+2 on l, audits every shard and settles the
// epoch after now with every audit passing, so that the deals are active.
// It returns the audits and that epoch.
func storeProven(t *testing.T, l *LocalNetwork, data []byte) ([]ShardAudit, uint64) {
	t.Helper()
	ctx := ctxT(t)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2})
	audits, err := l.Client.AuditFile(ctx, res.Manifest, SchemeCompact, []byte("epoch"))
	if err != nil {
		t.Fatal(err)
	}
	epoch := uint64(time.Now().Unix())/day + 1
	if n, err := l.Client.Settle(ctx, epoch, day, audits); err != nil || n != len(audits) {
		t.Fatalf("Settle(all pass) = %d, %v; want %d", n, err, len(audits))
	}
	return audits, epoch
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

// lastEnd returns the latest End in log, nil if none.
func lastEnd(t *testing.T, log *ledger.Log) *ledger.End {
	t.Helper()
	for i := log.Size() - 1; i >= 0; i-- {
		b, err := log.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ledger.DecodeEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		if end, ok := e.(*ledger.End); ok {
			return end
		}
	}
	return nil
}

// wantFailedEnd checks that the last End in each of logs is the failed
// End of d, forfeiting its collateral, and that each log verifies.
func wantFailedEnd(t *testing.T, d *ledger.Deal, logs map[string]*ledger.Log) {
	t.Helper()
	for name, log := range logs {
		end := lastEnd(t, log)
		if end == nil || end.Reason != ledger.EndFailed || end.Forfeit != d.Collateral || end.Shard != d.Shard {
			t.Errorf("%s's ledger: last End = %+v; want the failed deal's, forfeiting %d", name, end, d.Collateral)
		}
		if _, err := log.Verify(ctxT(t)); err != nil {
			t.Errorf("%s's ledger does not verify: %v", name, err)
		}
	}
}

// A provider that misses three audits in a row loses its collateral to
// the client: both ledgers hold the End with the forfeit, verify, and
// agree on what was paid. Renewal and expiry then run on the other deals.
func TestLedgerDealFailsRenewsExpires(t *testing.T) {
	l := startLedgerNet(t, 6, false)
	ctx := ctxT(t)
	now := time.Now()
	audits, epoch := storeProven(t, l, testData(1<<20+7, 5))
	bad := audits[0]
	bad.Outcome, bad.Reason = auditproto.Missed, nil
	for i := range uint64(market.MaxConsecutiveFailures) {
		want := 1
		if i == market.MaxConsecutiveFailures-1 {
			want = 2 // the penalty, then the End
		}
		if n, err := l.Client.Settle(ctx, epoch+1+i, day, []ShardAudit{bad}); err != nil || n != want {
			t.Fatalf("Settle(miss %d) = %d, %v; want %d", i+1, n, err, want)
		}
	}
	var prov *Provider
	for _, p := range l.Providers {
		if p.ID == bad.Provider {
			prov = p
		}
	}
	d, ok := l.ClientBook.Deal(bad.Provider, bad.ID)
	if !ok || d.Collateral == 0 {
		t.Fatalf("client's deal with the failing provider = %+v, %v; want one with collateral", d, ok)
	}
	wantFailedEnd(t, d, map[string]*ledger.Log{"client": l.ClientBook.Log(), "provider": prov.Book.Log()})
	mine := account(t, prov.Book.Log(), prov.Book.Self())
	theirs := account(t, l.ClientBook.Log(), prov.Book.Self())
	client := account(t, prov.Book.Log(), l.ClientBook.Self())
	if mine.Forfeits != d.Collateral || theirs.Forfeits != d.Collateral || client.ForfeitsReceived != d.Collateral {
		t.Errorf("forfeits: provider's ledger %d, client's ledger %d, client received %d; want %d each",
			mine.Forfeits, theirs.Forfeits, client.ForfeitsReceived, d.Collateral)
	}
	if mine.Penalties != theirs.Penalties || mine.Penalties <= d.Collateral || client.Compensation != mine.Penalties {
		t.Errorf("penalties: provider's ledger %d, client's ledger %d, client compensated %d; want equal, above the collateral %d",
			mine.Penalties, theirs.Penalties, client.Compensation, d.Collateral)
	}
	// A further miss of the failed deal is not settled.
	if n, err := l.Client.Settle(ctx, epoch+10, day, []ShardAudit{bad}); err != nil || n != 0 {
		t.Errorf("Settle(after the End) = %d, %v; want nothing", n, err)
	}

	// A day before the deals end, the passing ones are renewed; the
	// failed one is not.
	end := time.Unix(int64(d.End), 0)
	r, err := l.Client.RenewDeals(ctx, end.Add(-time.Hour), RenewOptions{})
	if err != nil || r.Renewed != len(audits)-1 || r.Refused != 0 {
		t.Fatalf("RenewDeals = %+v, %v; want %d renewed", r, err, len(audits)-1)
	}
	if r, err := l.Client.RenewDeals(ctx, end.Add(-time.Hour), RenewOptions{}); err != nil || r != (Renewals{}) {
		t.Errorf("RenewDeals again = %+v, %v; want nothing done", r, err)
	}
	// Repair moved one shard: its deals (the current one and its
	// renewal) are cancelled in both ledgers.
	moved := audits[1]
	if n, err := l.Client.CancelDeal(ctx, moved.Provider, moved.ID, now.Add(10*day*time.Second)); err != nil || n != 2 {
		t.Errorf("CancelDeal = %d, %v; want 2 deals ended", n, err)
	}
	// Past the renewals' end, they expire; the cancelled ones do not.
	later := end.Add(40 * 24 * time.Hour)
	if r, err := l.Client.RenewDeals(ctx, later, RenewOptions{Horizon: time.Hour}); err != nil || r.Expired != len(audits)-2 {
		t.Errorf("RenewDeals(after the end) = %+v, %v; want %d expired", r, err, len(audits)-2)
	}
	for _, p := range l.Providers {
		if _, err := p.Book.Log().Verify(ctx); err != nil {
			t.Errorf("%s's ledger does not verify: %v", l.Name(p.ID), err)
		}
	}
	if _, err := l.ClientBook.Log().Verify(ctx); err != nil {
		t.Errorf("client's ledger does not verify: %v", err)
	}
	var ended int
	for _, i := range l.ClientBook.DealInfos() {
		if i.End != nil {
			ended++
		}
	}
	// One failed, two cancelled, the other renewals expired.
	if want := 1 + 2 + len(audits) - 2; ended != want {
		t.Errorf("client's ledger ends %d deals, want %d", ended, want)
	}
}

// A provider away for the first penalties of a failing deal still gets the
// End when it is back: the client sends the deal's run of penalties again
// before the End, so the provider's ledger, whose rules want the run
// before a forfeit, takes both. Both ledgers then agree and verify.
func TestFailedEndReachesAProviderThatMissedPenalties(t *testing.T) {
	l := startLedgerNet(t, 6, false)
	ctx := ctxT(t)
	audits, epoch := storeProven(t, l, testData(1<<20+9, 6))
	bad := audits[0]
	bad.Outcome, bad.Reason = auditproto.Missed, nil
	prov := l.Provider(bad.Provider)
	// Away for all but the last of the run.
	l.Net.Kill(bad.Provider)
	for i := range uint64(market.MaxConsecutiveFailures) {
		if i == market.MaxConsecutiveFailures-1 {
			l.Net.Revive(bad.Provider)
		}
		if _, err := l.Client.Settle(ctx, epoch+1+i, day, []ShardAudit{bad}); err != nil {
			t.Fatalf("Settle(miss %d) = %v", i+1, err)
		}
	}
	d, ok := l.ClientBook.Deal(bad.Provider, bad.ID)
	if !ok {
		t.Fatal("the client has no deal with the failing provider")
	}
	wantFailedEnd(t, d, map[string]*ledger.Log{"client": l.ClientBook.Log(), "provider": prov.Book.Log()})
	mine := account(t, prov.Book.Log(), prov.Book.Self())
	theirs := account(t, l.ClientBook.Log(), prov.Book.Self())
	if mine.Penalties != theirs.Penalties || mine.Forfeits != theirs.Forfeits {
		t.Errorf("provider's ledger: penalties %d, forfeits %d; client's ledger: %d, %d; want them equal",
			mine.Penalties, mine.Forfeits, theirs.Penalties, theirs.Forfeits)
	}
}

// askMarket is a Market whose standing asks the test sets, with a price
// limit per GiB-month (0: none).
type askMarket struct {
	mu    sync.Mutex
	limit uint64
	asks  map[dsn.PeerID]book.Prices
}

func (m *askMarket) ask(p dsn.PeerID) (book.Prices, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.asks[p]
	return a, ok
}

func (m *askMarket) Eligible(p dsn.PeerID, size int64, maxPrice uint64) error {
	if a, ok := m.ask(p); ok && m.limit != 0 && a.PerGiBMonth > m.limit {
		return fmt.Errorf("%s asks %d per GiB-month, above the limit of %d", p, a.PerGiBMonth, m.limit)
	}
	return nil
}

func (m *askMarket) Prices(p dsn.PeerID) (uint64, uint64, bool) {
	a, ok := m.ask(p)
	return a.PerGiBMonth, a.PerGiB, ok
}

func (m *askMarket) CollateralPerGiB(p dsn.PeerID) (uint64, bool) {
	a, ok := m.ask(p)
	return a.CollateralPerGiB, ok
}

func (m *askMarket) Vetted(dsn.PeerID) bool { return true }

// Renewals follow the providers' current asks: a provider that raised its
// prices is renewed at them (it would refuse its old ones), one whose ask
// went above the client's limit is not renewed, one that says it asks less
// than it takes refuses, and one without a standing ask is renewed on the
// deal's own terms. Both ledgers hold each renewal on the same terms.
func TestRenewalsFollowAsks(t *testing.T) {
	asks := &askMarket{limit: 4 * book.DefaultTerms.PricePerGiBMonth, asks: map[dsn.PeerID]book.Prices{}}
	l := startLedgerNetWith(t, 6, false, asks)
	ctx := ctxT(t)
	audits, _ := storeProven(t, l, testData(1<<20+7, 6))

	def := book.DefaultTerms
	raised := book.Prices{PerGiBMonth: 3 * def.PricePerGiBMonth, PerGiB: 2 * def.PricePerGiB, CollateralPerGiB: def.CollateralPerGiB / 2}
	tooDear := book.Prices{PerGiBMonth: 5 * def.PricePerGiBMonth, PerGiB: def.PricePerGiB, CollateralPerGiB: def.CollateralPerGiB}
	cheap := book.Prices{PerGiBMonth: def.PricePerGiBMonth / 2, PerGiB: def.PricePerGiB, CollateralPerGiB: def.CollateralPerGiB}
	roles := map[dsn.PeerID]string{}
	deals := map[string]int{}
	for _, a := range audits {
		if _, ok := roles[a.Provider]; !ok {
			switch len(roles) {
			case 0:
				roles[a.Provider] = "raised"
				asks.asks[a.Provider] = raised
			case 1:
				roles[a.Provider] = "too dear"
				asks.asks[a.Provider] = tooDear
			case 2:
				roles[a.Provider] = "cheap"
				asks.asks[a.Provider] = cheap
			default:
				roles[a.Provider] = "no ask"
			}
		}
		deals[roles[a.Provider]]++
	}
	if len(deals) != 4 {
		t.Fatalf("the file's shards are on %d providers, want at least 4", len(roles))
	}

	d, _ := l.ClientBook.Deal(audits[0].Provider, audits[0].ID)
	end := time.Unix(int64(d.End), 0)
	r, err := l.Client.RenewDeals(ctx, end.Add(-time.Hour), RenewOptions{})
	want := Renewals{Renewed: deals["raised"] + deals["no ask"], Declined: deals["too dear"], Refused: deals["cheap"]}
	if err != nil || r != want {
		t.Fatalf("RenewDeals = %+v, %v; want %+v", r, err, want)
	}

	// Each renewal, in the client's ledger and its provider's, is on the
	// terms the provider's role says.
	books := map[dsn.PeerID]*book.Book{}
	for _, p := range l.Providers {
		books[p.ID] = p.Book
	}
	// renewals returns, from b's ledger, the deals with p for each shard
	// that start at the End of another one, and that one.
	renewals := func(b *book.Book, p dsn.PeerID) (renewed, old map[dsn.ShardID]*ledger.Deal) {
		pk, _ := l.ClientBook.KeyOf(p)
		type at struct {
			shard dsn.ShardID
			end   uint64
		}
		ending := map[at]*ledger.Deal{}
		for _, i := range b.DealInfos() {
			if i.Deal.Provider == pk {
				ending[at{i.Deal.Shard, i.Deal.End}] = i.Deal
			}
		}
		renewed, old = map[dsn.ShardID]*ledger.Deal{}, map[dsn.ShardID]*ledger.Deal{}
		for _, i := range b.DealInfos() {
			if prev := ending[at{i.Deal.Shard, i.Deal.Start}]; i.Deal.Provider == pk && prev != nil {
				renewed[i.Deal.Shard], old[i.Deal.Shard] = i.Deal, prev
			}
		}
		return renewed, old
	}
	for p, role := range roles {
		mine, before := renewals(l.ClientBook, p)
		theirs, _ := renewals(books[p], p)
		var n int
		for _, a := range audits {
			if a.Provider == p {
				n++
			}
		}
		if role == "too dear" || role == "cheap" {
			n = 0
		}
		if len(mine) != n || len(theirs) != n {
			t.Errorf("%s provider: %d renewals in the client's ledger, %d in its own; want %d", role, len(mine), len(theirs), n)
		}
		for id, rd := range mine {
			if td := theirs[id]; td == nil || !reflect.DeepEqual(td, rd) {
				t.Errorf("%s provider: the ledgers disagree on the renewal of %s", role, id.Short())
			}
			old := before[id]
			want := book.Prices{PerGiBMonth: old.PricePerGiBMonth, PerGiB: old.PricePerGiB}
			collateral := old.Collateral
			if role == "raised" {
				want = raised
				collateral = market.Collateral(rd.Size, raised.CollateralPerGiB)
			}
			if rd.PricePerGiBMonth != want.PerGiBMonth || rd.PricePerGiB != want.PerGiB || rd.Collateral != collateral {
				t.Errorf("%s provider: renewal at %d/GiB-month, %d/GiB, collateral %d; want %d, %d, %d",
					role, rd.PricePerGiBMonth, rd.PricePerGiB, rd.Collateral, want.PerGiBMonth, want.PerGiB, collateral)
			}
		}
	}
}
