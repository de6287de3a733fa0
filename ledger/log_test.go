package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestHonestHistoryAndReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, providerKey)
	entries := honest(t)
	first, err := l.AppendBatch(entries[:4])
	if first != 0 || err != nil {
		t.Fatalf("AppendBatch = %d, %v; want 0, nil", first, err)
	}
	appendAll(t, l, entries[4:]...)
	if l.Size() != int64(len(entries)) {
		t.Fatalf("Size() = %d, want %d", l.Size(), len(entries))
	}
	cp, err := l.Checkpoint()
	must(t, err)
	if cp.Size != int64(len(entries)) || cp.Node != provider {
		t.Errorf("Checkpoint() = size %d node %s, want %d %s", cp.Size, cp.Node.Short(), len(entries), provider.Short())
	}
	sum, err := l.Verify(context.Background())
	if err != nil || sum.Entries != int64(len(entries)) || sum.Checkpoints != 1 {
		t.Fatalf("Verify() = %+v, %v; want %d entries, 1 checkpoint", sum, err, len(entries))
	}
	must(t, l.Close())

	l = openLog(t, dir, providerKey)
	if l.Size() != int64(len(entries)) {
		t.Fatalf("after reopening, Size() = %d, want %d", l.Size(), len(entries))
	}
	// The rules survive the restart: the same receipt is still a replay.
	wantRefused(t, l, entries[4], ErrSequence)
	appendAll(t, l, newReceipt(t, testShard, 1, 6, 1<<29+1), newCredit(t, testShard, 1004))
	cp2, err := l.Checkpoint()
	must(t, err)
	p, err := l.ProveConsistency(cp.Size, cp2.Size)
	must(t, err)
	if err := CheckConsistency(cp, cp2, p); err != nil {
		t.Errorf("CheckConsistency(honest checkpoints) = %v", err)
	}
	if _, err := l.Verify(context.Background()); err != nil {
		t.Errorf("Verify() after reopening = %v", err)
	}
	cps, err := l.Checkpoints()
	if err != nil || len(cps) != 2 || cps[0].Size != cp.Size || cps[1].Size != cp2.Size {
		t.Errorf("Checkpoints() = %v, %v; want the two published", cps, err)
	}
	b, err := l.Entry(1)
	must(t, err)
	if e, err := DecodeEntry(b); err != nil || e.Kind() != KindReceipt {
		t.Errorf("Entry(1) decodes to %v, %v; want a receipt", e, err)
	}
	if _, err := l.Entry(l.Size()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Entry(Size()) = %v, want ErrNotFound", err)
	}
}

func TestOpenWithAnotherKey(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, providerKey)
	must(t, l.Close())
	if _, err := Open(dir, otherKey, nil); !errors.Is(err, ErrOwner) {
		t.Errorf("Open with another key = %v, want ErrOwner", err)
	}
}

func TestAppendBatchIsAtomic(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	d := newDeal(t, testShard, dealFrom, dealTo)
	bad := newReceipt(t, testShard, 1, 1, 10)
	bad.Bytes = 11 // signature no longer matches
	_, err := l.AppendBatch([]Entry{d, newReceipt(t, testShard, 2, 1, 5), bad})
	if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "entry 2") {
		t.Errorf("AppendBatch with a bad third entry = %v, want ErrBadSignature naming entry 2", err)
	}
	// A rule failure late in the batch undoes the earlier entries too.
	_, err = l.AppendBatch([]Entry{d, newReceipt(t, testShard, 2, 2, 5), newReceipt(t, testShard, 2, 1, 5)})
	if !errors.Is(err, ErrSequence) {
		t.Errorf("AppendBatch with a replayed sequence = %v, want ErrSequence", err)
	}
	if l.Size() != 0 {
		t.Errorf("Size() = %d after refused batches, want 0", l.Size())
	}
	if _, err := l.Verify(context.Background()); err != nil {
		t.Errorf("Verify() after refused batches = %v", err)
	}
	appendAll(t, l, d, newReceipt(t, testShard, 2, 1, 5))
}

// Attack: a receipt the provider signs itself.
func TestAttackReceiptSignedByProvider(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, newDeal(t, testShard, dealFrom, dealTo))

	forged := &Receipt{Provider: provider, Client: client, Shard: testShard, Session: SessionID{1}, Seq: 1, Bytes: 1 << 20}
	copy(forged.ClientSig[:], ed25519.Sign(providerKey, signedMessage(KindReceipt, forged.appendBody(nil))))
	wantRefused(t, l, forged, ErrBadSignature)

	self := &Receipt{Provider: provider, Client: provider, Shard: testShard, Session: SessionID{1}, Seq: 1, Bytes: 1 << 20}
	copy(self.ClientSig[:], ed25519.Sign(providerKey, signedMessage(KindReceipt, self.appendBody(nil))))
	wantRefused(t, l, self, ErrSelfDealing)
}

// Attack: a receipt replayed in a second session, or a second time.
func TestAttackReceiptReplayed(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	r := newReceipt(t, testShard, 1, 1, 1<<20)
	appendAll(t, l, newDeal(t, testShard, dealFrom, dealTo), r)

	moved := *r
	moved.Session = SessionID{2}
	wantRefused(t, l, &moved, ErrBadSignature)
	wantRefused(t, l, r, ErrSequence)

	// Another shard of the same client cannot borrow the session either.
	appendAll(t, l, newDeal(t, shard2, dealFrom, dealTo))
	wantRefused(t, l, newReceipt(t, shard2, 1, 2, 1<<20), ErrSessionMismatch)
}

// Attack: a receipt claimed by a provider it does not name.
func TestAttackReceiptClaimedByAnotherProvider(t *testing.T) {
	l := openLog(t, t.TempDir(), otherKey)
	d := &Deal{Shard: testShard, Size: 1 << 30, PricePerGiB: 1, Start: dealFrom, End: dealTo, Client: client, Provider: other, Auditors: []PublicKey{auditor}}
	must(t, d.SignClient(clientKey))
	must(t, d.SignProvider(otherKey))
	appendAll(t, l, d)

	r := newReceipt(t, testShard, 1, 1, 1<<20) // names provider, not other
	wantRefused(t, l, r, ErrNotParty)
	claimed := *r
	claimed.Provider = other
	wantRefused(t, l, &claimed, ErrBadSignature)
}

// Attack: lowered or reordered sequence numbers, shrinking byte counts.
func TestAttackReceiptSequence(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, newDeal(t, testShard, dealFrom, dealTo), newReceipt(t, testShard, 1, 5, 1000))
	tests := []struct {
		name string
		r    *Receipt
		want error
	}{
		{"lowered", newReceipt(t, testShard, 1, 4, 2000), ErrSequence},
		{"repeated", newReceipt(t, testShard, 1, 5, 2000), ErrSequence},
		{"fewer bytes", newReceipt(t, testShard, 1, 6, 999), ErrBytesDecreased},
		{"more than the shard", newReceipt(t, testShard, 1, 6, 1<<30+1), ErrTerms},
		{"no deal", newReceipt(t, shard2, 3, 1, 1), ErrNoDeal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantRefused(t, l, tt.r, tt.want) })
	}
	// Reordered: 7 arrives, then 6 is refused.
	appendAll(t, l, newReceipt(t, testShard, 1, 7, 3000))
	wantRefused(t, l, newReceipt(t, testShard, 1, 6, 2000), ErrSequence)
}

// Attack: credits for an epoch with no passing audit.
func TestAttackCreditWithoutAudit(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, newDeal(t, testShard, dealFrom, dealTo), newCredit(t, testShard, 1000), newPenalty(t, testShard, 1001))

	selfCredit := &Credit{Provider: provider, Client: client, Auditor: provider, Shard: testShard, Epoch: 1002, EpochSeconds: hour, Bytes: 1 << 30}
	copy(selfCredit.AuditorSig[:], ed25519.Sign(providerKey, signedMessage(KindCredit, selfCredit.appendBody(nil))))

	forged := &Credit{Provider: provider, Client: client, Auditor: auditor, Shard: testShard, Epoch: 1002, EpochSeconds: hour, Bytes: 1 << 30}
	copy(forged.AuditorSig[:], ed25519.Sign(providerKey, signedMessage(KindCredit, forged.appendBody(nil))))

	stranger := &Credit{Provider: provider, Client: client, Auditor: other, Shard: testShard, Epoch: 1002, EpochSeconds: hour, Bytes: 1 << 30}
	must(t, stranger.Sign(otherKey))

	wrongLen := &Credit{Provider: provider, Client: client, Auditor: auditor, Shard: testShard, Epoch: 2004, EpochSeconds: hour / 2, Bytes: 1 << 30}
	must(t, wrongLen.Sign(auditorKey))

	wrongSize := newCredit(t, testShard, 1003)
	wrongSize.Bytes = 1 << 31
	must(t, wrongSize.Sign(auditorKey))

	tests := []struct {
		name string
		c    Entry
		want error
	}{
		{"signed by the provider as auditor", selfCredit, ErrSelfDealing},
		{"auditor's name, provider's signature", forged, ErrBadSignature},
		{"signed by a stranger", stranger, ErrNotAuditor},
		{"after a missed challenge", newCredit(t, testShard, 1001), ErrDuplicateOutcome},
		{"second credit", newCredit(t, testShard, 1000), ErrDuplicateOutcome},
		{"penalty after a credit", newPenalty(t, testShard, 1000), ErrDuplicateOutcome},
		{"before the deal", newCredit(t, testShard, 999), ErrNoDeal},
		{"after the deal", newCredit(t, testShard, 2000), ErrNoDeal},
		{"another shard", newCredit(t, shard2, 1005), ErrNoDeal},
		{"other epoch length", wrongLen, ErrTerms},
		{"other size", wrongSize, ErrTerms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantRefused(t, l, tt.c, tt.want) })
	}
	appendAll(t, l, newCredit(t, testShard, 1999)) // last epoch of the deal
}

func TestDealRules(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	d := newDeal(t, testShard, dealFrom, dealTo)
	half := *d
	half.ProviderSig = Signature{}
	wantRefused(t, l, &half, ErrBadSignature)
	appendAll(t, l, d)
	wantRefused(t, l, newDeal(t, testShard, dealTo-1, dealTo+10), ErrDealOverlap)
	wantRefused(t, l, newDeal(t, testShard, dealFrom-10, dealFrom+1), ErrDealOverlap)
	appendAll(t, l, newDeal(t, testShard, dealTo, dealTo+hour), newDeal(t, testShard, dealFrom-hour, dealFrom))

	// A deal the owner is no party to.
	foreign := &Deal{Shard: testShard, Size: 1, Start: 1, End: 2, Client: client, Provider: other, Auditors: []PublicKey{auditor}}
	must(t, foreign.SignClient(clientKey))
	must(t, foreign.SignProvider(otherKey))
	wantRefused(t, l, foreign, ErrNotParty)

	// Malformed entries never reach the store.
	var many []PublicKey
	for i := range MaxAuditors + 1 {
		many = append(many, PublicKey{0xff, byte(i)})
	}
	wide := newDeal(t, shard2, dealFrom, dealTo)
	wide.Auditors = many
	wantRefused(t, l, wide, ErrMalformed)
	empty := newDeal(t, shard2, dealFrom, dealTo)
	empty.Start = empty.End
	wantRefused(t, l, empty, ErrMalformed)
}

// TestAuditorAndClientLogs checks that the other parties can keep the
// entries they are party to: a client its receipts too (what it owes),
// an auditor not (it neither pays nor is paid for bandwidth).
func TestAuditorAndClientLogs(t *testing.T) {
	for name, key := range map[string]ed25519.PrivateKey{"auditor": auditorKey, "client": clientKey} {
		t.Run(name, func(t *testing.T) {
			l := openLog(t, t.TempDir(), key)
			appendAll(t, l, newDeal(t, testShard, dealFrom, dealTo), newCredit(t, testShard, 1000), newPenalty(t, testShard, 1001))
			r := newReceipt(t, testShard, 1, 1, 1)
			if name == "client" {
				appendAll(t, l, r)
				wantRefused(t, l, r, ErrSequence)
				return
			}
			wantRefused(t, l, r, ErrNotParty)
		})
	}
}

func TestBalance(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, honest(t)...)
	accts, err := l.Balance()
	must(t, err)
	var prov, cli *Account
	for i := range accts {
		switch accts[i].Party {
		case provider:
			prov = &accts[i]
		case client:
			cli = &accts[i]
		}
	}
	if prov == nil || cli == nil {
		t.Fatalf("Balance() = %+v, want accounts for provider and client", accts)
	}
	// Three credits of one GiB-hour at 1,000,000 per GiB-month of 720
	// hours: 3,000,000/720 = 4166.67, rounded down once.
	// Bandwidth: sessions 1 and 2 end at 2^29 bytes each, one GiB at
	// 10,000 per GiB.
	want := Account{Party: provider, SpaceEarned: 4166, BytesServed: 1 << 30, BandwidthEarned: 10_000, Penalties: testPenalty}
	if *prov != want {
		t.Errorf("provider account = %+v, want %+v", *prov, want)
	}
	wantCli := Account{Party: client, SpaceOwed: 4166, BandwidthOwed: 10_000, Compensation: testPenalty}
	if *cli != wantCli {
		t.Errorf("client account = %+v, want %+v", *cli, wantCli)
	}
	// Accounts is repeatable.
	b := NewBalances()
	for _, e := range honest(t) {
		must(t, b.Add(e))
	}
	a1, _ := b.Accounts()
	a2, _ := b.Accounts()
	if len(a1) != len(a2) || a1[0] != a2[0] || a1[1] != a2[1] {
		t.Errorf("Accounts() twice = %+v then %+v", a1, a2)
	}
}

func TestClosed(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	must(t, l.Close())
	if _, err := l.Append(newDeal(t, testShard, dealFrom, dealTo)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Verify(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Verify after Close = %v, want ErrClosed", err)
	}
}

// TestCrashKeepsAcknowledgedEntries cuts power after appends: the store
// as last synced must hold every acknowledged entry and verify.
func TestCrashKeepsAcknowledgedEntries(t *testing.T) {
	fs := vfs.NewCrashableMem()
	l, err := Open("log", providerKey, &Options{FS: fs})
	must(t, err)
	es := honest(t)
	_, err = l.AppendBatch(es[:5])
	must(t, err)
	appendAll(t, l, es[5:]...)
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	l.Close()

	l2, err := Open("log", providerKey, &Options{FS: crashed})
	must(t, err)
	defer l2.Close()
	if l2.Size() != int64(len(es)) {
		t.Errorf("after a crash Size() = %d, want the %d acknowledged", l2.Size(), len(es))
	}
	if _, err := l2.Verify(context.Background()); err != nil {
		t.Errorf("Verify() after a crash = %v", err)
	}
}
