package market

import (
	"fmt"
	"math/bits"
)

// Units of the prices.
const (
	// GiB is the unit of prices per GiB: 2^30 bytes.
	GiB = 1 << 30
	// MonthSeconds is the month of prices per GiB-month: 30 days.
	MonthSeconds = 30 * 24 * 3600
	// MaxAmount bounds a penalty, in nano-units, as the ledger does
	// (ledger.MaxAmount); amounts saturate at it.
	MaxAmount = 1 << 48
)

// DealTerms are the terms of one shard's deal that amounts depend on,
// with the meanings of ledger.Deal's fields.
type DealTerms struct {
	// Size is the shard's size in bytes.
	Size uint64
	// PricePerGiBMonth and PricePerGiB are the deal's prices in
	// nano-units.
	PricePerGiBMonth, PricePerGiB uint64
	// Start and End bound the deal in Unix seconds: [Start, End).
	Start, End uint64
	// EpochSeconds is the length of the audit epoch the deal is settled
	// in: one credit or penalty per epoch.
	EpochSeconds uint64
}

// EpochValue is what keeping the shard for one epoch earns, in
// nano-units, rounded down: size × seconds × price / (GiB × month). It is
// the same number as node/book.EpochValue.
func (t DealTerms) EpochValue() uint64 {
	hi, lo := mul128(0, t.Size, t.EpochSeconds)
	hi, lo = mul128(hi, lo, t.PricePerGiBMonth)
	return div128(hi, lo, GiB*MonthSeconds, false)
}

// Collateral is what a provider stakes for a shard of size bytes at
// collateralPerGiB nano-units per GiB: rounded up, so that a small shard
// at a non-zero rate stakes at least one nano-unit, and at most
// MaxAmount.
func Collateral(size, collateralPerGiB uint64) uint64 {
	hi, lo := mul128(0, size, collateralPerGiB)
	return min(div128(hi, lo, GiB, true), MaxAmount)
}

// EpochPenalty is what a provider forfeits to the client for one audit
// of a deal's shard with outcome o: the Amount of the ledger Penalty
// entry. A pass forfeits nothing; a failed or missed audit forfeits twice
// the epoch's value (the credit it lost and as much again), at least one
// nano-unit, exactly as node/book.Penalty does; fail and missed cost the
// same, for the reason Update gives. It fails only with ErrOutcome.
func EpochPenalty(t DealTerms, o AuditOutcome) (uint64, error) {
	switch o {
	case AuditPass:
		return 0, nil
	case AuditFail, AuditMissed:
	default:
		return 0, fmt.Errorf("penalty: %w %d", ErrOutcome, uint8(o))
	}
	return max(1, min(t.EpochValue(), MaxAmount/2)*2), nil
}

// Forfeit is the collateral a deal that staked collateral forfeits once
// it is in state next: all of it when next.Status is DealFailed (after
// MaxConsecutiveFailures failed or missed audits in a row), which pays
// the client for repairing the shard, and nothing otherwise. It is the
// Forfeit of the ledger End entry that ends a failed deal, and the
// ledger refuses any other amount.
func Forfeit(collateral uint64, next DealState) uint64 {
	if next.Status == DealFailed {
		return min(collateral, MaxAmount)
	}
	return 0
}

// Penalty is everything an audit with outcome o costs a provider, where
// next is the deal's state after the audit (Transition's result) and
// collateralPerGiB is the collateral rate the deal was made at (terms are
// fixed when the deal is made; later asks do not change them). It is the
// sum of two ledger amounts, each recorded once: EpochPenalty, the
// Amount of the audit's Penalty entry, and, for the audit that fails the
// deal, Forfeit, the collateral in the End entry that follows it. The
// Penalty entry never carries the collateral.
//
// So a deal costs its provider at most its collateral once plus twice the
// value of each epoch it failed. The sum saturates at MaxAmount; the
// products are taken in 128 bits and cannot overflow. It fails only with
// ErrOutcome.
func Penalty(t DealTerms, collateralPerGiB uint64, o AuditOutcome, next DealState) (uint64, error) {
	p, err := EpochPenalty(t, o)
	if err != nil || p == 0 {
		return p, err
	}
	p += Forfeit(Collateral(t.Size, collateralPerGiB), next) // both <= MaxAmount: no overflow
	return min(p, MaxAmount), nil
}

// mul128 returns (hi, lo) × m, saturating at 2^128-1.
func mul128(hi, lo, m uint64) (uint64, uint64) {
	h1, l := bits.Mul64(lo, m)
	h2, l2 := bits.Mul64(hi, m)
	h, carry := bits.Add64(h1, l2, 0)
	if h2 != 0 || carry != 0 {
		return ^uint64(0), ^uint64(0)
	}
	return h, l
}

// div128 returns (hi, lo) / d, rounded up if up, saturating at 2^64-1.
func div128(hi, lo, d uint64, up bool) uint64 {
	if hi >= d {
		return ^uint64(0)
	}
	q, r := bits.Div64(hi, lo, d)
	if up && r != 0 && q != ^uint64(0) {
		q++
	}
	return q
}
