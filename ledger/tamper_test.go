package ledger

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"
)

// tamperLog builds a provider's log of 20 entries with a checkpoint at
// 20, closes it, lets f change the pebble store directly, and reopens it.
func tamperLog(t *testing.T, f func(t *testing.T, db *pebble.DB)) *Log {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, dir, providerKey)
	appendAll(t, l, tamperEntries(t)...)
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	must(t, l.Close())
	db, err := pebble.Open(dir, quietPebble())
	must(t, err)
	f(t, db)
	must(t, db.Close())
	return openLog(t, dir, providerKey)
}

func tamperEntries(t testing.TB) []Entry {
	es := []Entry{newDeal(t, testShard, dealFrom, dealTo)}
	for i := range uint64(19) {
		if i%4 == 3 {
			es = append(es, newCredit(t, testShard, 1000+i))
		} else {
			es = append(es, newReceipt(t, testShard, 1, i+1, 1000*(i+1)))
		}
	}
	return es
}

func entryKey(i int64) []byte { return u64Key(keyEntry, uint64(i)) }

func getRaw(t *testing.T, db *pebble.DB, k []byte) []byte {
	t.Helper()
	v, err := get(db, k)
	if err != nil || v == nil {
		t.Fatalf("get %x: %v, %v", k, v, err)
	}
	return v
}

func set(t *testing.T, db *pebble.DB, k, v []byte) { must(t, db.Set(k, v, pebble.Sync)) }
func del(t *testing.T, db *pebble.DB, k []byte)    { must(t, db.Delete(k, pebble.Sync)) }

// Attack: entries altered, removed or inserted in the pebble store behind
// the node's back. Verify must name the first bad index and the problem.
func TestAttackTamperedStore(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(t *testing.T, db *pebble.DB)
		index   int64
		problem error
		detail  error // nil: no sentinel beyond problem
	}{
		{"byte flipped", func(t *testing.T, db *pebble.DB) {
			v := getRaw(t, db, entryKey(7))
			v[len(v)-70] ^= 1 // inside the body: the signature fails
			set(t, db, entryKey(7), v)
		}, 7, ErrAltered, ErrBadSignature},
		{"two entries swapped", func(t *testing.T, db *pebble.DB) {
			a, b := getRaw(t, db, entryKey(5)), getRaw(t, db, entryKey(6))
			set(t, db, entryKey(5), b)
			set(t, db, entryKey(6), a)
		}, 5, ErrAltered, nil},
		{"entry replaced by a valid one", func(t *testing.T, db *pebble.DB) {
			// Signed by the client, but not what was logged at 9.
			b, _ := Marshal(newReceipt(t, testShard, 7, 1, 1))
			set(t, db, entryKey(9), b)
		}, 9, ErrAltered, nil},
		{"stored hash altered", func(t *testing.T, db *pebble.DB) {
			k := u64Key(keyHash, uint64(tlog.StoredHashIndex(0, 11)))
			v := getRaw(t, db, k)
			v[0] ^= 1
			set(t, db, k, v)
		}, 11, ErrAltered, nil},
		{"entry removed", func(t *testing.T, db *pebble.DB) { del(t, db, entryKey(12)) }, 12, ErrMissing, nil},
		{"tail removed and size lowered", func(t *testing.T, db *pebble.DB) {
			del(t, db, entryKey(19))
			set(t, db, []byte{keySize}, binary.BigEndian.AppendUint64(nil, 19))
			for j := tlog.StoredHashIndex(0, 19); j < tlog.StoredHashCount(20); j++ {
				del(t, db, u64Key(keyHash, uint64(j)))
			}
		}, 19, ErrMissing, nil},
		{"entry inserted past the end", func(t *testing.T, db *pebble.DB) {
			b, _ := Marshal(newReceipt(t, testShard, 1, 100, 1<<29))
			set(t, db, entryKey(20), b)
		}, 20, ErrExtra, nil},
		{"entry inserted in the middle", func(t *testing.T, db *pebble.DB) {
			for i := int64(19); i >= 10; i-- {
				set(t, db, entryKey(i+1), getRaw(t, db, entryKey(i)))
			}
			b, _ := Marshal(newReceipt(t, testShard, 9, 1, 1))
			set(t, db, entryKey(10), b)
			set(t, db, []byte{keySize}, binary.BigEndian.AppendUint64(nil, 21))
		}, 10, ErrAltered, nil},
		{"duplicate credit inserted with hashes", func(t *testing.T, db *pebble.DB) {
			// A consistent extension: the credit at 4 again at 20, with
			// its tree hashes. Only the rules can catch it.
			v := getRaw(t, db, entryKey(4))
			e := newEdge()
			hs, err := tlog.StoredHashes(20, v, e.reader(db))
			must(t, err)
			set(t, db, entryKey(20), v)
			for j, h := range hs {
				set(t, db, u64Key(keyHash, uint64(tlog.StoredHashIndex(0, 20)+int64(j))), h[:])
			}
			set(t, db, []byte{keySize}, binary.BigEndian.AppendUint64(nil, 21))
		}, 20, ErrAltered, ErrDuplicateOutcome},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tamperLog(t, tt.tamper)
			_, err := l.Verify(context.Background())
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Index != tt.index || !errors.Is(err, tt.problem) || tt.detail != nil && !errors.Is(err, tt.detail) {
				t.Fatalf("Verify() = %v, want index %d: %v", err, tt.index, tt.problem)
			}
		})
	}
}

// Attack: the operator rebuilds the store without an entry it dislikes
// (a penalty) and keeps the published checkpoint history. Entries and
// hashes agree with each other, so only the checkpoints catch it.
func TestAttackRewrittenHistory(t *testing.T) {
	dir, forged := t.TempDir(), t.TempDir()
	l := openLog(t, dir, providerKey)
	es := honest(t)
	appendAll(t, l, es...)
	cp, err := l.Checkpoint()
	must(t, err)
	must(t, l.Close())

	// The same key signs a history without the penalty at 6.
	f := openLog(t, forged, providerKey)
	appendAll(t, f, append(append([]Entry{}, es[:6]...), es[7:]...)...)
	appendAll(t, f, newCredit(t, testShard, 1002))
	must(t, f.Close())
	db, err := pebble.Open(forged, quietPebble())
	must(t, err)
	set(t, db, u64Key(keyCheckpoint, 0), cp.Note)
	must(t, db.Close())

	f = openLog(t, forged, providerKey)
	_, err = f.Verify(context.Background())
	var ve *VerifyError
	if !errors.As(err, &ve) || !errors.Is(err, ErrFork) || ve.Index != 0 {
		t.Errorf("Verify() of a rewritten history = %v, want ErrFork at 0", err)
	}
	if _, err := f.Checkpoint(); !errors.Is(err, ErrFork) {
		t.Errorf("Checkpoint() of a rewritten history = %v, want ErrFork", err)
	}
}

// Attack: a node signs a checkpoint that forks its history. Anyone
// holding both checkpoints sees it.
func TestAttackForkedCheckpoint(t *testing.T) {
	a := openLog(t, t.TempDir(), providerKey)
	b := openLog(t, t.TempDir(), providerKey)
	es := honest(t)
	appendAll(t, a, es[:5]...)
	appendAll(t, b, es[:3]...)
	appendAll(t, b, newReceipt(t, testShard, 3, 1, 10), newReceipt(t, testShard, 3, 2, 20))
	cpA5, err := a.Checkpoint()
	must(t, err)
	cpB5, err := b.Checkpoint()
	must(t, err)
	if err := CheckConsistency(cpA5, cpB5, nil); !errors.Is(err, ErrFork) {
		t.Errorf("CheckConsistency(two size-5 checkpoints) = %v, want ErrFork", err)
	}
	appendAll(t, b, newCredit(t, testShard, 1001))
	cpB6, err := b.Checkpoint()
	must(t, err)
	p, err := b.ProveConsistency(5, 6)
	must(t, err)
	if err := CheckConsistency(cpB5, cpB6, p); err != nil {
		t.Errorf("CheckConsistency(b at 5, b at 6) = %v, want nil", err)
	}
	if err := CheckConsistency(cpA5, cpB6, p); !errors.Is(err, ErrFork) {
		t.Errorf("CheckConsistency(a at 5, b at 6) = %v, want ErrFork", err)
	}
	// The common prefix is consistent with both.
	cp3 := mustParse(t, a, 3)
	p3, err := b.ProveConsistency(3, 6)
	must(t, err)
	if err := CheckConsistency(cp3, cpB6, p3); err != nil {
		t.Errorf("CheckConsistency(a at 3, b at 6) = %v, want nil", err)
	}
	if err := CheckConsistency(cpB6, cpB5, p); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("CheckConsistency(newer, older) = %v, want ErrCheckpoint", err)
	}
	other := openLog(t, t.TempDir(), otherKey)
	cpO, err := other.Checkpoint()
	must(t, err)
	if err := CheckConsistency(cpO, cpB6, nil); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("CheckConsistency(checkpoints of two nodes) = %v, want ErrCheckpoint", err)
	}
}

// mustParse signs a checkpoint of a's tree at size n, as a would have
// published it then.
func mustParse(t *testing.T, a *Log, n int64) Checkpoint {
	t.Helper()
	a.mu.Lock()
	h, err := a.rootHash(n)
	a.mu.Unlock()
	must(t, err)
	msg := signCheckpoint(t, providerKey, n, h)
	c, err := VerifyCheckpoint(msg, provider)
	must(t, err)
	return c
}

func signCheckpoint(t testing.TB, key ed25519.PrivateKey, n int64, h tlog.Hash) []byte {
	t.Helper()
	return signText(t, key, checkpointText(PublicKeyOf(key), n, h))
}
