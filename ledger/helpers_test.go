package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/pebblelog"
)

// testKey returns a fixed key named by name, so golden files and
// examples are stable.
func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("dsn ledger test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

var (
	clientKey   = testKey("client")
	providerKey = testKey("provider")
	auditorKey  = testKey("auditor")
	otherKey    = testKey("other")
	client      = PublicKeyOf(clientKey)
	provider    = PublicKeyOf(providerKey)
	auditor     = PublicKeyOf(auditorKey)
	other       = PublicKeyOf(otherKey)
	testShard   = dsn.SumShard([]byte("shard one"))
	shard2      = dsn.SumShard([]byte("shard two"))
)

const (
	hour     = 3600
	dealFrom = 1000 * hour // epoch 1000 of one hour
	dealTo   = 2000 * hour
)

// newDeal returns a deal between client and provider for shard,
// [from, to), audited by auditor and the client, signed by both.
func newDeal(t testing.TB, shard dsn.ShardID, from, to uint64) *Deal {
	t.Helper()
	auditors := []PublicKey{auditor, client}
	if string(auditors[0][:]) > string(auditors[1][:]) {
		auditors[0], auditors[1] = auditors[1], auditors[0]
	}
	d := &Deal{
		Shard: shard, Size: 1 << 30, PricePerGiBMonth: 1_000_000, PricePerGiB: 10_000, Collateral: testCollateral,
		Start: from, End: to, Client: client, Provider: provider, Auditors: auditors,
	}
	must(t, d.SignClient(clientKey))
	must(t, d.SignProvider(providerKey))
	return d
}

func newReceipt(t testing.TB, shard dsn.ShardID, session byte, seq, n uint64) *Receipt {
	t.Helper()
	r := &Receipt{Provider: provider, Client: client, Shard: shard, Session: SessionID{session}, Seq: seq, Bytes: n}
	must(t, r.Sign(clientKey))
	return r
}

func newCredit(t testing.TB, shard dsn.ShardID, epoch uint64) *Credit {
	t.Helper()
	c := &Credit{Provider: provider, Client: client, Auditor: auditor, Shard: shard, Epoch: epoch, EpochSeconds: hour, Bytes: 1 << 30, ProofDigest: sha256.Sum256([]byte{byte(epoch)})}
	must(t, c.Sign(auditorKey))
	return c
}

// newPenalty returns the penalty for a missed hour of newDeal's deal, of
// the amount its terms give.
func newPenalty(t testing.TB, shard dsn.ShardID, epoch uint64) *Penalty {
	t.Helper()
	return penaltyOf(t, shard, epoch, hour, testPenalty)
}

// testPenalty is the penalty for an hour of newDeal's deal: twice the
// hour's value, 2 × ⌊2^30 × 3600 × 10^6 / (2^30 × 2,592,000)⌋ = 2 × 1388.
const testPenalty = 2776

// penaltyOf returns a penalty signed by the auditor for epoch of secs
// with the given amount.
func penaltyOf(t testing.TB, shard dsn.ShardID, epoch, secs, amount uint64) *Penalty {
	t.Helper()
	p := &Penalty{Provider: provider, Client: client, Auditor: auditor, Shard: shard, Epoch: epoch, EpochSeconds: secs, Outcome: OutcomeMissed, Amount: amount}
	must(t, p.Sign(auditorKey))
	return p
}

// creditOf returns a credit signed by the auditor for epoch of secs.
func creditOf(t testing.TB, shard dsn.ShardID, epoch, secs uint64) *Credit {
	t.Helper()
	c := &Credit{Provider: provider, Client: client, Auditor: auditor, Shard: shard, Epoch: epoch, EpochSeconds: secs, Bytes: 1 << 30, ProofDigest: sha256.Sum256([]byte{byte(epoch), byte(secs)})}
	must(t, c.Sign(auditorKey))
	return c
}

// testCollateral is what newDeal's provider stakes.
const testCollateral = 5_000_000

// newEnd returns an End of the deal of shard starting at start, signed
// by key as signer.
func newEnd(t testing.TB, shard dsn.ShardID, start, at uint64, reason EndReason, forfeit uint64, key ed25519.PrivateKey) *End {
	t.Helper()
	e := &End{Shard: shard, Client: client, Provider: provider, Signer: PublicKeyOf(key), Start: start, At: at, Reason: reason, Forfeit: forfeit}
	must(t, e.Sign(key))
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func openLog(t testing.TB, dir string, key ed25519.PrivateKey) *Log {
	t.Helper()
	l, err := Open(dir, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendAll appends entries one by one, failing the test on refusal.
func appendAll(t testing.TB, l *Log, entries ...Entry) {
	t.Helper()
	for _, e := range entries {
		if _, err := l.Append(e); err != nil {
			t.Fatalf("Append(%s) = %v", e.Kind(), err)
		}
	}
}

// wantRefused appends e and checks that it is refused with want and
// that the log did not grow.
func wantRefused(t *testing.T, l *Log, e Entry, want error) {
	t.Helper()
	n := l.Size()
	_, err := l.Append(e)
	if !errors.Is(err, want) {
		t.Errorf("Append(%s) = %v, want %v", e.Kind(), err, want)
	}
	if l.Size() != n {
		t.Errorf("log grew from %d to %d on a refused append", n, l.Size())
	}
}

// honest returns a small valid history in a provider's log: a deal,
// two sessions of receipts, credits and a penalty.
func honest(t testing.TB) []Entry {
	return []Entry{
		newDeal(t, testShard, dealFrom, dealTo),
		newReceipt(t, testShard, 1, 1, 1<<20),
		newReceipt(t, testShard, 1, 2, 1<<28),
		newCredit(t, testShard, 1000),
		newReceipt(t, testShard, 1, 5, 1<<29),
		newCredit(t, testShard, 1001),
		newPenalty(t, testShard, 1002),
		newReceipt(t, testShard, 2, 1, 1<<29),
		newCredit(t, testShard, 1003),
	}
}

// quietPebble returns options for opening a log's store directly, with
// pebble's routine log lines dropped.
func quietPebble() *pebble.Options {
	return &pebble.Options{Logger: pebblelog.New(slog.New(slog.DiscardHandler), "test")}
}
