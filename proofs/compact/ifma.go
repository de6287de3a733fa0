package compact

import "filippo.io/edwards25519"

// The tag kernel with AVX-512 IFMA (amd64 processors since Ice Lake and
// Zen 4), which multiplies eight pairs of 52-bit numbers per instruction
// and adds the low or high 52 bits of each 104-bit product into a 64-bit
// lane. Scalars and sectors are cut into five 52-bit limbs; lane l of step
// t works on sector 8t+l, so that every lane of a column accumulator adds
// at most 10 terms below 2^52 per step, 250 over a block: below 2^60, and
// the eight lanes together below 2^63. It computes exactly the integer
// innerProduct does, from which both reduce to the same scalar; tagging
// runs about three times as fast (docs/proofs.md).

// ifmaSteps is how many steps of eight sectors a block takes.
const ifmaSteps = Sectors / 8

// A block must split into whole steps of eight sectors.
var _ [0]struct{} = [Sectors % 8]struct{}{}

// ifmaAlpha is a key's alpha laid out for the IFMA kernel: limb i of
// alpha[8t+l] at [t][i][l].
type ifmaAlpha [ifmaSteps][5][8]uint64

// newIFMAAlpha lays out alpha, given as four 64-bit limbs each.
func newIFMAAlpha(alpha *[Sectors][4]uint64) *ifmaAlpha {
	var v ifmaAlpha
	for j := range alpha {
		for i, limb := range limbs52(&alpha[j]) {
			v[j/8][i][j%8] = limb
		}
	}
	return &v
}

// limbs52 cuts a number below 2^260 (four 64-bit limbs) into five 52-bit
// limbs.
func limbs52(x *[4]uint64) [5]uint64 {
	const mask = 1<<52 - 1
	return [5]uint64{
		x[0] & mask,
		(x[0]>>52 | x[1]<<12) & mask,
		(x[1]>>40 | x[2]<<24) & mask,
		(x[2]>>28 | x[3]<<36) & mask,
		x[3] >> 16,
	}
}

// reduceLanes sets dst to the sum over c and l of cols[c][l] * 2^(52c) modulo
// l and returns it.
func reduceLanes(dst *edwards25519.Scalar, cols *[10][8]uint64) *edwards25519.Scalar {
	var r [10]uint64
	for c := range cols {
		var sum uint64 // below 2^63: see above
		for _, v := range cols[c] {
			sum += v
		}
		bit := 52 * c
		w, s := bit/64, uint(bit%64)
		addAt(&r, w, sum<<s)
		if s != 0 {
			addAt(&r, w+1, sum>>(64-s))
		}
	}
	return reduceLimbs(dst, &r)
}
