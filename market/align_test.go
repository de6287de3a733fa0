package market_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/market"
	"github.com/dsn-project/dsn/node/book"
)

// TestLedgerAlignment checks that the market's units and bounds are the
// ledger's, so that asks and penalties become ledger entries unchanged.
func TestLedgerAlignment(t *testing.T) {
	checks := []struct {
		name        string
		market, led uint64
	}{
		{"MaxPrice", market.MaxPrice, ledger.MaxPrice},
		{"MaxTime", market.MaxTime, ledger.MaxTime},
		{"MaxAmount", market.MaxAmount, ledger.MaxAmount},
		{"MonthSeconds", market.MonthSeconds, book.MonthSeconds},
		{"OutcomeFail", uint64(market.AuditFail), uint64(ledger.OutcomeFail)},
		{"OutcomeMissed", uint64(market.AuditMissed), uint64(ledger.OutcomeMissed)},
		{"public key size", uint64(len(market.Ask{}.Provider)), uint64(len(ledger.PublicKey{}))},
	}
	for _, c := range checks {
		if c.market != c.led {
			t.Errorf("%s: market %d, ledger %d", c.name, c.market, c.led)
		}
	}
}

// TestAmountsMatchBook: without collateral, the market's epoch value and
// penalty are node/book's, so ledgers written today stay valid.
func TestAmountsMatchBook(t *testing.T) {
	for _, d := range []ledger.Deal{
		{Size: 1 << 20, PricePerGiBMonth: 1e9},
		{Size: dsn.MaxShardSize, PricePerGiBMonth: ledger.MaxPrice},
		{Size: 1, PricePerGiBMonth: 1},
		{Size: 12345678, PricePerGiBMonth: 987654321},
	} {
		for _, epoch := range []uint64{1, 60, 3600, ledger.MaxEpochSeconds} {
			terms := market.DealTerms{Size: d.Size, PricePerGiBMonth: d.PricePerGiBMonth, EpochSeconds: epoch}
			if got, want := terms.EpochValue(), book.EpochValue(&d, epoch); got != want {
				t.Errorf("EpochValue(%d B at %d, %d s) = %d, book says %d", d.Size, d.PricePerGiBMonth, epoch, got, want)
			}
			got, err := market.Penalty(terms, 0, market.AuditFail, market.DealState{Status: market.DealActive, Failures: 1})
			if want := book.Penalty(&d, epoch); err != nil || got != want {
				t.Errorf("Penalty(%d B at %d, %d s) = %d, %v; book says %d", d.Size, d.PricePerGiBMonth, epoch, got, err, want)
			}
		}
	}
}

// TestAskMakesLedgerDeal: an ask's provider key and prices go into a
// ledger deal as they are, and the ledger takes it.
func TestAskMakesLedgerDeal(t *testing.T) {
	provider := ed25519.NewKeyFromSeed(make([]byte, 32))
	client := ed25519.NewKeyFromSeed(append(make([]byte, 31), 1))
	a := market.Ask{Seq: 1, PricePerGiBMonth: ledger.MaxPrice, PricePerGiB: 3, CollateralPerGiB: 5,
		FreeCapacity: 1 << 40, MinShardSize: 1, MaxShardSize: dsn.MaxShardSize, ValidUntil: ledger.MaxTime}
	if err := a.Sign(provider); err != nil {
		t.Fatal(err)
	}
	d := &ledger.Deal{Size: a.MaxShardSize, PricePerGiBMonth: a.PricePerGiBMonth, PricePerGiB: a.PricePerGiB,
		Start: a.ValidUntil - 10, End: a.ValidUntil, Client: ledger.PublicKeyOf(client), Provider: ledger.PublicKey(a.Provider),
		Auditors: []ledger.PublicKey{ledger.PublicKeyOf(client)}}
	if err := d.SignClient(client); err != nil {
		t.Fatal(err)
	}
	if err := d.SignProvider(provider); err != nil {
		t.Fatalf("the ask's provider key does not sign its deal: %v", err)
	}
	if err := ledger.CheckSignatures(d); err != nil {
		t.Fatalf("ledger refuses a deal on an ask's terms: %v", err)
	}
}
