package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// failedDeal is a provider's log of a deal that passed one audit, then
// failed MaxConsecutiveFailures in a row (epochs 1001 to 1003).
func failedDeal(t *testing.T) []Entry {
	es := []Entry{newDeal(t, testShard, dealFrom, dealTo), newCredit(t, testShard, 1000)}
	for e := uint64(1001); e < 1001+MaxConsecutiveFailures; e++ {
		es = append(es, newPenalty(t, testShard, e))
	}
	return es
}

// failAt is when failedDeal's deal stops earning: the end of its last
// failed epoch.
const failAt = (1001 + MaxConsecutiveFailures) * hour

// A deal that fails three audits in a row ends with its collateral paid
// to the client, in the provider's, client's and auditor's logs alike;
// the balances carry the forfeit once, on both sides.
func TestEndFailedForfeitsCollateral(t *testing.T) {
	for _, owner := range []ed25519.PrivateKey{providerKey, clientKey, auditorKey} {
		l := openLog(t, t.TempDir(), owner)
		appendAll(t, l, failedDeal(t)...)
		appendAll(t, l, newEnd(t, testShard, dealFrom, failAt, EndFailed, testCollateral, auditorKey))
		if _, err := l.Verify(context.Background()); err != nil {
			t.Errorf("Verify(%s's log) = %v", PublicKeyOf(owner).Short(), err)
		}
		accts, err := l.Balance()
		must(t, err)
		var pr, cl Account
		for _, a := range accts {
			switch a.Party {
			case provider:
				pr = a
			case client:
				cl = a
			}
		}
		penalties := uint64(MaxConsecutiveFailures * testPenalty)
		if pr.Forfeits != testCollateral || pr.Penalties != penalties+testCollateral {
			t.Errorf("provider Forfeits, Penalties = %d, %d; want %d, %d", pr.Forfeits, pr.Penalties, testCollateral, penalties+testCollateral)
		}
		if cl.ForfeitsReceived != pr.Forfeits || cl.Compensation != pr.Penalties {
			t.Errorf("client ForfeitsReceived, Compensation = %d, %d; provider paid %d, %d", cl.ForfeitsReceived, cl.Compensation, pr.Forfeits, pr.Penalties)
		}
	}
}

// Attack: an auditor (or a client) takes the collateral without the run
// of failures that earns it.
func TestAttackForfeitWithoutFailures(t *testing.T) {
	deal := newDeal(t, testShard, dealFrom, dealTo)
	tests := []struct {
		name    string
		history []Entry
	}{
		{"no audits", nil},
		{"two penalties", []Entry{newPenalty(t, testShard, 1000), newPenalty(t, testShard, 1001)}},
		{"a credit breaks the run", []Entry{newPenalty(t, testShard, 1000), newPenalty(t, testShard, 1001),
			newCredit(t, testShard, 1002), newPenalty(t, testShard, 1003), newPenalty(t, testShard, 1004)}},
		{"three passes", []Entry{newCredit(t, testShard, 1000), newCredit(t, testShard, 1001), newCredit(t, testShard, 1002)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, t.TempDir(), providerKey)
			appendAll(t, l, deal)
			appendAll(t, l, tt.history...)
			wantRefused(t, l, newEnd(t, testShard, dealFrom, 1010*hour, EndFailed, testCollateral, auditorKey), ErrTerms)
		})
	}
}

// Attack: a failed deal forfeits other than its collateral.
func TestAttackForfeitOtherThanCollateral(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, failedDeal(t)...)
	wantRefused(t, l, newEnd(t, testShard, dealFrom, failAt, EndFailed, testCollateral+1, auditorKey), ErrTerms)
	wantRefused(t, l, newEnd(t, testShard, dealFrom, failAt, EndFailed, MaxAmount, clientKey), ErrTerms)
	wantRefused(t, l, newEnd(t, testShard, dealFrom, failAt, EndFailed, testCollateral-1, auditorKey), ErrTerms)
	appendAll(t, l, newEnd(t, testShard, dealFrom, failAt, EndFailed, testCollateral, clientKey))
}

// Attack: the provider ends its own deal (to escape audits, or to stop a
// failing run before it costs the collateral), or a stranger ends it.
func TestAttackEndSignedByProviderOrStranger(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, newDeal(t, testShard, dealFrom, dealTo))
	e := &End{Shard: testShard, Client: client, Provider: provider, Signer: provider, Start: dealFrom, At: dealFrom + hour, Reason: EndCancelled}
	if err := e.Sign(providerKey); !errors.Is(err, ErrSelfDealing) {
		t.Errorf("End.Sign by the provider = %v, want %v", err, ErrSelfDealing)
	}
	// Signed by hand, bypassing Sign's checks.
	copy(e.SignerSig[:], ed25519.Sign(providerKey, signedMessage(KindEnd, e.appendBody(nil))))
	wantRefused(t, l, e, ErrSelfDealing)
	wantRefused(t, l, newEnd(t, testShard, dealFrom, dealFrom+hour, EndCancelled, 0, otherKey), ErrNotAuditor)
	// The client's own signature over another signer's End does not pass.
	forged := newEnd(t, testShard, dealFrom, dealFrom+hour, EndCancelled, 0, clientKey)
	forged.Signer = auditor
	wantRefused(t, l, forged, ErrBadSignature)
}

// Attack: a credit or penalty for an epoch after the deal ended, and an
// End that would undo outcomes already logged.
func TestAttackOutcomeAfterEnd(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, newDeal(t, testShard, dealFrom, dealTo), newCredit(t, testShard, 1000), newCredit(t, testShard, 1003))
	// Epoch 1003 is credited: the deal cannot end before it is over.
	wantRefused(t, l, newEnd(t, testShard, dealFrom, 1003*hour, EndCancelled, 0, clientKey), ErrTerms)
	wantRefused(t, l, newEnd(t, testShard, dealFrom, 1002*hour, EndCancelled, 0, clientKey), ErrTerms)
	appendAll(t, l, newEnd(t, testShard, dealFrom, 1004*hour, EndCancelled, 0, clientKey))
	wantRefused(t, l, newCredit(t, testShard, 1004), ErrDealEnded)
	wantRefused(t, l, newCredit(t, testShard, 1500), ErrDealEnded)
	wantRefused(t, l, newPenalty(t, testShard, 1004), ErrDealEnded)
	// An epoch before the end, audited late, still counts.
	appendAll(t, l, newCredit(t, testShard, 1001))
	if _, err := l.Verify(context.Background()); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

// Attack: ending a deal twice (a second forfeit), and ends that do not
// match the deal.
func TestAttackEndTwiceAndOutOfTerms(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, failedDeal(t)...)
	wantRefused(t, l, newEnd(t, testShard, dealFrom+1, failAt, EndCancelled, 0, clientKey), ErrNoDeal)
	wantRefused(t, l, newEnd(t, shard2, dealFrom, failAt, EndCancelled, 0, clientKey), ErrNoDeal)
	wantRefused(t, l, newEnd(t, testShard, dealFrom, dealTo-1, EndExpired, 0, clientKey), ErrTerms)
	wantRefused(t, l, newEnd(t, testShard, dealFrom, dealTo+1, EndCancelled, 0, clientKey), ErrTerms)
	appendAll(t, l, newEnd(t, testShard, dealFrom, failAt, EndFailed, testCollateral, auditorKey))
	wantRefused(t, l, newEnd(t, testShard, dealFrom, failAt, EndFailed, testCollateral, clientKey), ErrDealEnded)
	wantRefused(t, l, newEnd(t, testShard, dealFrom, dealTo, EndExpired, 0, clientKey), ErrDealEnded)
}

// A deal expires at its End and is renewed by a deal starting there; a
// renewal that overlaps the deal it renews is refused.
func TestExpiryAndRenewal(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, newDeal(t, testShard, dealFrom, dealTo), newCredit(t, testShard, 1000))
	wantRefused(t, l, newDeal(t, testShard, dealTo-hour, dealTo+1000*hour), ErrDealOverlap)
	renewal := newDeal(t, testShard, dealTo, dealTo+1000*hour)
	appendAll(t, l, renewal, newEnd(t, testShard, dealFrom, dealTo, EndExpired, 0, clientKey))
	// Epoch 2000 belongs to the renewal, which has not ended; the last
	// epoch of the expired deal may still be settled late.
	appendAll(t, l, newCredit(t, testShard, 2000), newCredit(t, testShard, 1999))
	wantRefused(t, l, newEnd(t, testShard, dealTo, dealTo+1000*hour, EndFailed, testCollateral, clientKey), ErrTerms)
	if _, err := l.Verify(context.Background()); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

// Attack: an End altered in the pebble store behind the node's back.
// Verify names its index.
func TestAttackTamperedEnd(t *testing.T) {
	history := append(failedDeal(t), newEnd(t, testShard, dealFrom, failAt, EndFailed, testCollateral, auditorKey), newReceipt(t, testShard, 1, 1, 10))
	const at = 5 // the End's index
	tests := []struct {
		name   string
		tamper func(t *testing.T, db *pebble.DB)
		detail error
	}{
		{"forfeit raised", func(t *testing.T, db *pebble.DB) {
			b, _ := Marshal(newEnd(t, testShard, dealFrom, failAt, EndFailed, testCollateral, auditorKey))
			b[len(b)-65]++ // the forfeit's last byte: the signature no longer covers it
			set(t, db, entryKey(at), b)
		}, ErrBadSignature},
		{"forfeit raised and re-signed by the client", func(t *testing.T, db *pebble.DB) {
			b, _ := Marshal(newEnd(t, testShard, dealFrom, failAt, EndFailed, 2*testCollateral, clientKey))
			set(t, db, entryKey(at), b)
		}, ErrTerms},
		{"a penalty of the run replaced by a credit", func(t *testing.T, db *pebble.DB) {
			b, _ := Marshal(newCredit(t, testShard, 1002))
			set(t, db, entryKey(3), b)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, providerKey)
			appendAll(t, l, history...)
			must(t, l.Close())
			db, err := pebble.Open(dir, quietPebble())
			must(t, err)
			tt.tamper(t, db)
			must(t, db.Close())
			l = openLog(t, dir, providerKey)
			_, err = l.Verify(context.Background())
			var ve *VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, ErrAltered) {
				t.Fatalf("Verify = %v, want a VerifyError with %v", err, ErrAltered)
			}
			want := int64(at)
			if tt.detail == nil {
				want = 3 // the stored hashes of the replaced penalty no longer match
			}
			if ve.Index != want || (tt.detail != nil && !errors.Is(err, tt.detail)) {
				t.Errorf("Verify = %v at index %d; want index %d and %v", err, ve.Index, want, tt.detail)
			}
		})
	}
}

// An epoch that straddles a renewal boundary is settled once, against the
// deal it starts in; one that straddles a gap between deals is not.
func TestEpochAcrossRenewal(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	// Deals ending and starting half-way through epochs 1999 and 2999.
	mid := uint64(dealTo - hour/2)
	appendAll(t, l, newDeal(t, testShard, dealFrom, mid), newDeal(t, testShard, mid, mid+1000*hour))
	appendAll(t, l, newCredit(t, testShard, 1999))
	wantRefused(t, l, newCredit(t, testShard, 1999), ErrDuplicateOutcome)
	// The renewal ends half-way through epoch 2999, and nothing follows.
	wantRefused(t, l, newCredit(t, testShard, 2999), ErrNoDeal)
	appendAll(t, l, newCredit(t, testShard, 2998))
	if _, err := l.Verify(context.Background()); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

// The balance prices an epoch across a renewal by the deal it starts in.
func TestBalanceAcrossRenewal(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	mid := uint64(dealTo - hour/2)
	appendAll(t, l, newDeal(t, testShard, dealFrom, mid), newDeal(t, testShard, mid, mid+1000*hour), newCredit(t, testShard, 1999), newCredit(t, testShard, 2000))
	accts, err := l.Balance()
	if err != nil {
		t.Fatalf("Balance = %v", err)
	}
	// Two hours of 1 GiB at 1,000,000 per GiB-month, both deals' price.
	const want = 2 * hour * 1_000_000 / (30 * 24 * hour)
	found := false
	for _, a := range accts {
		if a.Party == provider {
			found = true
			if a.SpaceEarned != want {
				t.Errorf("provider earned %d for two credited epochs, want %d", a.SpaceEarned, want)
			}
		}
	}
	if !found {
		t.Errorf("Balance has no account for the provider: %+v", accts)
	}
}
