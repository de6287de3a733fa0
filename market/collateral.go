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

// Penalty is what a provider forfeits to the client for an audit of a
// deal's shard with outcome o, where next is the deal's state after the
// audit (Transition's result) and collateralPerGiB is the collateral rate
// of the ask the deal was made under (terms are fixed when the deal is
// made; later asks do not change them):
//
//   - a pass forfeits nothing;
//   - a failed or missed audit forfeits twice the epoch's value (the
//     credit it lost and as much again), at least one nano-unit, as
//     node/book.Penalty does; fail and missed cost the same, for the
//     reason Update gives;
//   - the audit that fails the deal (next.Status is DealFailed, after
//     MaxConsecutiveFailures in a row) also forfeits the whole
//     collateral, which pays the client for repairing the shard.
//
// So a deal can cost its provider at most its collateral once plus twice
// the value of each epoch it failed. The sum saturates at MaxAmount; the
// products are taken in 128 bits and cannot overflow. It fails only with
// ErrOutcome.
func Penalty(t DealTerms, collateralPerGiB uint64, o AuditOutcome, next DealState) (uint64, error) {
	switch o {
	case AuditPass:
		return 0, nil
	case AuditFail, AuditMissed:
	default:
		return 0, fmt.Errorf("penalty: %w %d", ErrOutcome, uint8(o))
	}
	p := max(1, min(t.EpochValue(), MaxAmount/2)*2)
	if next.Status == DealFailed {
		p += Collateral(t.Size, collateralPerGiB) // both <= MaxAmount: no overflow
	}
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
