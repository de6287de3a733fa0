package market

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestEpochValue(t *testing.T) {
	tests := []struct {
		name string
		t    DealTerms
		want uint64
	}{
		{"GiB for a month", DealTerms{Size: GiB, PricePerGiBMonth: 1e9, EpochSeconds: MonthSeconds}, 1e9},
		{"GiB for an hour", DealTerms{Size: GiB, PricePerGiBMonth: 1e9, EpochSeconds: 3600}, 1388888},
		{"MiB for an hour", DealTerms{Size: 1 << 20, PricePerGiBMonth: 1e9, EpochSeconds: 3600}, 1356},
		{"byte for a second rounds to 0", DealTerms{Size: 1, PricePerGiBMonth: 1e9, EpochSeconds: 1}, 0},
		{"free", DealTerms{Size: GiB, EpochSeconds: 3600}, 0},
		{"largest valid", DealTerms{Size: 1 << 31, PricePerGiBMonth: MaxPrice, EpochSeconds: 366 * 24 * 3600}, 2 * MaxPrice * 366 / 30},
		{"saturates", DealTerms{Size: ^uint64(0), PricePerGiBMonth: ^uint64(0), EpochSeconds: ^uint64(0)}, ^uint64(0)},
	}
	for _, tt := range tests {
		if got := tt.t.EpochValue(); got != tt.want {
			t.Errorf("%s: EpochValue(%+v) = %d, want %d", tt.name, tt.t, got, tt.want)
		}
	}
}

func TestCollateral(t *testing.T) {
	tests := []struct {
		size, rate, want uint64
	}{
		{GiB, 2e9, 2e9},
		{GiB / 2, 3, 2}, // 1.5 rounds up
		{1, 1, 1},
		{1, 0, 0},
		{0, 1e9, 0},
		{1 << 31, MaxPrice, 2 * MaxPrice},
		{^uint64(0), ^uint64(0), MaxAmount},
	}
	for _, tt := range tests {
		if got := Collateral(tt.size, tt.rate); got != tt.want {
			t.Errorf("Collateral(%d, %d) = %d, want %d", tt.size, tt.rate, got, tt.want)
		}
	}
}

// TestAmountsAgainstBig compares the 128-bit arithmetic with math/big on
// random inputs, within and far beyond the valid ranges.
func TestAmountsAgainstBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	maxU := new(big.Int).SetUint64(^uint64(0))
	for i := range 20000 {
		d := DealTerms{Size: rng.Uint64(), PricePerGiBMonth: rng.Uint64(), EpochSeconds: rng.Uint64()}
		rate := rng.Uint64()
		if i%2 == 0 { // within the ledger's bounds
			d.Size, d.PricePerGiBMonth, d.EpochSeconds = d.Size%(1<<31)+1, d.PricePerGiBMonth%(MaxPrice+1), d.EpochSeconds%(366*24*3600)+1
			rate %= MaxPrice + 1
		}
		n := new(big.Int).SetUint64(d.Size)
		n.Mul(n, new(big.Int).SetUint64(d.EpochSeconds))
		n.Mul(n, new(big.Int).SetUint64(d.PricePerGiBMonth))
		n.Quo(n, big.NewInt(GiB*MonthSeconds))
		if n.Cmp(maxU) > 0 {
			n = maxU
		}
		if got := d.EpochValue(); got != n.Uint64() {
			t.Fatalf("EpochValue(%+v) = %d, math/big says %d", d, got, n)
		}
		c := new(big.Int).SetUint64(d.Size)
		c.Mul(c, new(big.Int).SetUint64(rate))
		c.Add(c, big.NewInt(GiB-1))
		c.Quo(c, big.NewInt(GiB))
		if c.Cmp(big.NewInt(MaxAmount)) > 0 {
			c.SetInt64(MaxAmount)
		}
		if got := Collateral(d.Size, rate); got != c.Uint64() {
			t.Fatalf("Collateral(%d, %d) = %d, math/big says %d", d.Size, rate, got, c)
		}
	}
}

func TestPenalty(t *testing.T) {
	hourGiB := DealTerms{Size: GiB, PricePerGiBMonth: 1e9, EpochSeconds: 3600} // epoch value 1388888
	live := DealState{Status: DealActive, Failures: 1}
	failed := DealState{Status: DealFailed, Failures: MaxConsecutiveFailures}
	tests := []struct {
		name string
		t    DealTerms
		rate uint64
		o    AuditOutcome
		next DealState
		want uint64
	}{
		{"pass", hourGiB, 2e9, AuditPass, DealState{Status: DealActive}, 0},
		{"fail", hourGiB, 2e9, AuditFail, live, 2 * 1388888},
		{"missed costs the same", hourGiB, 2e9, AuditMissed, live, 2 * 1388888},
		{"failing audit takes the collateral", hourGiB, 2e9, AuditMissed, failed, 2*1388888 + 2e9},
		{"no collateral staked", hourGiB, 0, AuditFail, failed, 2 * 1388888},
		{"never rounds to nothing", DealTerms{Size: 1, PricePerGiBMonth: 1, EpochSeconds: 1}, 0, AuditFail, live, 1},
		{"saturates", DealTerms{Size: ^uint64(0), PricePerGiBMonth: ^uint64(0), EpochSeconds: ^uint64(0)}, ^uint64(0), AuditFail, failed, MaxAmount},
	}
	for _, tt := range tests {
		got, err := Penalty(tt.t, tt.rate, tt.o, tt.next)
		if err != nil || got != tt.want {
			t.Errorf("%s: Penalty = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
	if _, err := Penalty(hourGiB, 1, 9, live); !errors.Is(err, ErrOutcome) {
		t.Errorf("Penalty(outcome 9) = %v, want %v", err, ErrOutcome)
	}
}

// TestPenaltySplitsIntoEntries: the total Penalty is the Penalty entry's
// amount plus the End entry's forfeit, and the collateral appears only in
// the second, only for the audit that fails the deal.
func TestPenaltySplitsIntoEntries(t *testing.T) {
	terms := DealTerms{Size: GiB, PricePerGiBMonth: 1e9, EpochSeconds: 3600}
	const rate = 2e9
	collateral := Collateral(terms.Size, rate)
	s := DealState{Status: DealAccepted}
	var entries, forfeits, total uint64
	for i, o := range []AuditOutcome{AuditPass, AuditMissed, AuditFail, AuditMissed} {
		next, err := Transition(s, mustEvent(t, o))
		if err != nil {
			t.Fatalf("audit %d: %v", i, err)
		}
		amount, err := EpochPenalty(terms, o)
		if err != nil {
			t.Fatal(err)
		}
		all, err := Penalty(terms, rate, o, next)
		if err != nil {
			t.Fatal(err)
		}
		f := Forfeit(collateral, next)
		if all != amount+f {
			t.Errorf("audit %d (%s): Penalty = %d, EpochPenalty + Forfeit = %d + %d", i, o, all, amount, f)
		}
		if f != 0 && next.Status != DealFailed {
			t.Errorf("audit %d (%s): Forfeit(%v) = %d, want 0 before the deal fails", i, o, next, f)
		}
		entries += amount
		forfeits += f
		total += all
		s = next
	}
	if s.Status != DealFailed || forfeits != collateral || total != entries+collateral {
		t.Errorf("after three failures: %v, forfeits %d, total %d; want failed, %d once, %d", s, forfeits, total, collateral, entries+collateral)
	}
	if got := Forfeit(collateral, DealState{Status: DealExpired}); got != 0 {
		t.Errorf("Forfeit(expired) = %d, want 0", got)
	}
	if got := Forfeit(^uint64(0), DealState{Status: DealFailed}); got != MaxAmount {
		t.Errorf("Forfeit(2^64-1, failed) = %d, want %d", got, uint64(MaxAmount))
	}
}

func mustEvent(t *testing.T, o AuditOutcome) DealEvent {
	t.Helper()
	e, err := AuditEvent(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
