package book

import "math/bits"

// u128 is an unsigned 128-bit integer, enough for shard bytes × seconds ×
// price before the one division.
type u128 struct{ hi, lo uint64 }

// mul128 returns a × m; it saturates at the maximum instead of wrapping.
func mul128(a u128, m uint64) u128 {
	hi1, lo := bits.Mul64(a.lo, m)
	hi2, lo2 := bits.Mul64(a.hi, m)
	hi, carry := bits.Add64(hi1, lo2, 0)
	if hi2 != 0 || carry != 0 {
		return u128{^uint64(0), ^uint64(0)}
	}
	return u128{hi, lo}
}

// div128 returns a / d rounded down, saturating at 2^64-1.
func div128(a u128, d uint64) uint64 {
	if a.hi >= d {
		return ^uint64(0)
	}
	q, _ := bits.Div64(a.hi, a.lo, d)
	return q
}
