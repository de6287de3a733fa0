package ledgerproto

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
)

// TestRoundTrip runs every request against a provider whose handler is a
// real ledger, and checks each answer the way a node would.
func TestRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	proposed := f.deal(t, f.shard, 10*hour, 100*hour)
	d, err := ProposeDeal(ctx, f.client, f.provider, proposed)
	if err != nil {
		t.Fatalf("ProposeDeal = %v", err)
	}
	if err := ledger.CheckSignatures(d); err != nil || d.ClientSig != proposed.ClientSig || d.Shard != f.shard {
		t.Errorf("ProposeDeal returned a deal that is not the proposal countersigned: %v", err)
	}
	if err := Submit(ctx, f.client, f.provider, f.receipt(t, f.shard, 1, 1, 1000)); err != nil {
		t.Errorf("Submit(receipt) = %v", err)
	}
	if err := Submit(ctx, f.auditor, f.provider, f.credit(t, 10, "auditor")); err != nil {
		t.Errorf("Submit(credit) = %v", err)
	}
	if err := Submit(ctx, f.auditor, f.provider, f.penalty(t, 11)); err != nil {
		t.Errorf("Submit(penalty) = %v", err)
	}
	if n := f.log.Size(); n != 4 {
		t.Fatalf("provider's log has %d entries, want 4", n)
	}

	note, err := FetchCheckpoint(ctx, f.stranger, f.provider)
	if err != nil {
		t.Fatalf("FetchCheckpoint = %v", err)
	}
	older, err := ledger.VerifyCheckpoint(note, f.pub("provider"))
	if err != nil || older.Size != 4 {
		t.Fatalf("VerifyCheckpoint(fetched) = size %d, %v; want 4", older.Size, err)
	}
	if err := Submit(ctx, f.client, f.provider, f.receipt(t, f.shard, 1, 2, 5000)); err != nil {
		t.Fatalf("Submit(second receipt) = %v", err)
	}
	note, err = FetchCheckpoint(ctx, f.stranger, f.provider)
	if err != nil {
		t.Fatalf("FetchCheckpoint = %v", err)
	}
	newer, err := ledger.VerifyCheckpoint(note, f.pub("provider"))
	if err != nil || newer.Size != 5 {
		t.Fatalf("VerifyCheckpoint(second) = size %d, %v; want 5", newer.Size, err)
	}
	proof, err := FetchConsistency(ctx, f.stranger, f.provider, older.Size, newer.Size)
	if err != nil {
		t.Fatalf("FetchConsistency = %v", err)
	}
	if err := ledger.CheckConsistency(older, newer, proof); err != nil {
		t.Errorf("CheckConsistency(fetched proof) = %v", err)
	}
	incl, err := FetchInclusion(ctx, f.stranger, f.provider, 1)
	if err != nil {
		t.Fatalf("FetchInclusion = %v", err)
	}
	e, _, err := ledger.CheckInclusion(incl, f.pub("provider"))
	if err != nil || e.Kind() != ledger.KindReceipt {
		t.Errorf("CheckInclusion(fetched proof of entry 1) = %v, %v; want the receipt", e, err)
	}

	// The server counts a request once its reply is written, which may be
	// after the client has read it.
	want := Stats{DealsSigned: 1, EntriesAccepted: 4, Checkpoints: 2, ConsistencyProofs: 1, InclusionProofs: 1}
	waitFor(t, fmt.Sprintf("Stats() = %+v", want), func() bool { return f.srv.Stats() == want })
}

// TestLedgerRefusals: what the provider's ledger refuses comes back to the
// client as the ledger's own sentinel, so it can tell a replay from a
// forgery.
func TestLedgerRefusals(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	f.withDeal(t)
	must(t, Submit(ctx, f.client, f.provider, f.receipt(t, f.shard, 1, 5, 1000)))
	must(t, Submit(ctx, f.auditor, f.provider, f.credit(t, 10, "auditor")))

	forged := f.receipt(t, f.shard, 1, 6, 2000)
	forged.Bytes = 3000 // after signing
	otherShard := dsn.SumShard([]byte("no deal for this one"))
	tests := []struct {
		name   string
		submit func() error
		want   []error
		not    []error
	}{
		{"receipt replayed", func() error { return Submit(ctx, f.client, f.provider, f.receipt(t, f.shard, 1, 5, 1000)) },
			[]error{ErrDuplicate, ErrRefused, ledger.ErrSequence}, []error{ledger.ErrBadSignature}},
		{"receipt lowered", func() error { return Submit(ctx, f.client, f.provider, f.receipt(t, f.shard, 1, 4, 1000)) },
			[]error{ErrDuplicate, ledger.ErrSequence}, nil},
		{"second credit for the epoch", func() error { return Submit(ctx, f.auditor, f.provider, f.credit(t, 10, "auditor")) },
			[]error{ErrDuplicate, ErrRefused, ledger.ErrDuplicateOutcome}, []error{ledger.ErrSequence}},
		{"penalty for a credited epoch", func() error { return Submit(ctx, f.auditor, f.provider, f.penalty(t, 10)) },
			[]error{ErrDuplicate, ledger.ErrDuplicateOutcome}, nil},
		{"forged receipt", func() error { return Submit(ctx, f.client, f.provider, forged) },
			[]error{ErrRefused, ledger.ErrBadSignature}, []error{ErrDuplicate}},
		{"receipt without a deal", func() error { return Submit(ctx, f.client, f.provider, f.receipt(t, otherShard, 2, 1, 10)) },
			[]error{ErrRefused, ledger.ErrNoDeal}, []error{ErrDuplicate}},
		{"credit by a non-auditor", func() error { return Submit(ctx, f.stranger, f.provider, f.credit(t, 12, "stranger")) },
			[]error{ErrRefused, ledger.ErrNotAuditor}, nil},
		{"receipt bytes decrease", func() error { return Submit(ctx, f.client, f.provider, f.receipt(t, f.shard, 1, 9, 10)) },
			[]error{ErrRefused, ledger.ErrBytesDecreased}, nil},
		{"receipt sent by another peer", func() error { return Submit(ctx, f.stranger, f.provider, f.receipt(t, f.shard, 1, 9, 5000)) },
			[]error{ErrRefused}, []error{ledger.ErrBadSignature, ErrDuplicate}},
		{"overlapping deal", func() error {
			_, err := ProposeDeal(ctx, f.client, f.provider, f.deal(t, f.shard, 50*hour, 150*hour))
			return err
		}, []error{ErrRefused, ledger.ErrDealOverlap}, nil},
		{"deal for another provider", func() error {
			d := f.deal(t, f.shard, 200*hour, 300*hour)
			d.Provider = f.pub("stranger")
			must(t, d.SignClient(f.keys["client"]))
			_, err := ProposeDeal(ctx, f.client, f.provider, d)
			return err
		}, []error{ErrRefused, ledger.ErrBadSignature}, nil},
		{"inclusion past the end", func() error { _, err := FetchInclusion(ctx, f.stranger, f.provider, 100); return err },
			[]error{ledger.ErrNotFound}, []error{ErrRefused}},
		{"consistency past the end", func() error { _, err := FetchConsistency(ctx, f.stranger, f.provider, 1, 100); return err },
			[]error{ledger.ErrNotFound}, nil},
	}
	size := f.log.Size()
	for _, tc := range tests {
		err := tc.submit()
		if err == nil {
			t.Errorf("%s: accepted, want %v", tc.name, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: error %v does not match %v", tc.name, err, w)
			}
		}
		for _, n := range tc.not {
			if errors.Is(err, n) {
				t.Errorf("%s: error %v matches %v", tc.name, err, n)
			}
		}
	}
	if n := f.log.Size(); n != size {
		t.Errorf("log grew from %d to %d entries on refused requests", size, n)
	}
}

// An End travels like the other submitted entries: the provider's log
// takes the client's or auditor's, and the wire carries its refusals.
func TestSubmitEnd(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	d := f.withDeal(t)
	for e := uint64(10); e < 10+ledger.MaxConsecutiveFailures; e++ {
		must(t, Submit(ctx, f.auditor, f.provider, f.penalty(t, e)))
	}
	at := uint64(10+ledger.MaxConsecutiveFailures) * hour
	tests := []struct {
		name string
		from dsn.Transport
		e    *ledger.End
		want []error
	}{
		{"forfeit above the collateral", f.auditor, f.end(t, d, at, ledger.EndFailed, d.Collateral+1, "auditor"), []error{ErrRefused, ledger.ErrTerms}},
		{"end by a stranger", f.stranger, f.end(t, d, at, ledger.EndCancelled, 0, "stranger"), []error{ErrRefused, ledger.ErrNotAuditor}},
		{"auditor's end sent by the client", f.client, f.end(t, d, at, ledger.EndFailed, d.Collateral, "auditor"), []error{ErrRefused}},
	}
	for _, tc := range tests {
		err := Submit(ctx, tc.from, f.provider, tc.e)
		for _, w := range tc.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: Submit = %v, want %v", tc.name, err, w)
			}
		}
	}
	end := f.end(t, d, at, ledger.EndFailed, d.Collateral, "auditor")
	if err := Submit(ctx, f.auditor, f.provider, end); err != nil {
		t.Fatalf("Submit(end) = %v", err)
	}
	if err := Submit(ctx, f.client, f.provider, f.end(t, d, at, ledger.EndCancelled, 0, "client")); !errors.Is(err, ledger.ErrDealEnded) {
		t.Errorf("Submit(second end) = %v, want %v", err, ledger.ErrDealEnded)
	}
	if err := Submit(ctx, f.auditor, f.provider, f.credit(t, 20, "auditor")); !errors.Is(err, ledger.ErrDealEnded) {
		t.Errorf("Submit(credit after the end) = %v, want %v", err, ledger.ErrDealEnded)
	}
	b, err := f.log.Entry(f.log.Size() - 1)
	must(t, err)
	if got, err := ledger.DecodeEntry(b); err != nil || got.(*ledger.End).SignerSig != end.SignerSig {
		t.Errorf("provider's last entry = %v, %v; want the End", got, err)
	}
}
