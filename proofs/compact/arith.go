package compact

import (
	"encoding/binary"
	"math/bits"

	"filippo.io/edwards25519"
)

// Lazy reduction. Every sum this package computes is a sum of products of
// non-negative integers below 2^253, and there are at most a few million
// terms, so the exact integer sum fits in well under 640 bits. The hot loops
// therefore add exact products into multi-word accumulators with plain
// carry chains and reduce modulo l once, at the end of a block or a proof,
// instead of reducing after every multiplication as Scalar.MultiplyAdd must.
//
// A column k holds the sum of the products a_i*b_j with i+j = k; its value
// is col[0] + col[1]*2^64 + col[2]*2^128. The third word counts carries out
// of 128 bits and cannot overflow: it would take 2^64 products.

// col is one column accumulator.
type col [3]uint64

// addProduct adds a*b to c.
func (c *col) addProduct(a, b uint64) {
	hi, lo := bits.Mul64(a, b)
	var cy uint64
	c[0], cy = bits.Add64(c[0], lo, 0)
	c[1], cy = bits.Add64(c[1], hi, cy)
	c[2] += cy
}

// wide is an accumulator of products of up to 4-limb numbers: 7 product
// columns, and an eighth so that generic code never needs a bounds special
// case.
type wide [8]col

// mulAdd adds a*b to w, where a and b are little-endian limbs with
// len(a)+len(b) <= 9. It is the plain, loop-shaped form of the unrolled
// kernels below, used where speed does not matter and as their reference in
// tests.
func (w *wide) mulAdd(a, b []uint64) {
	for i, ai := range a {
		for j, bj := range b {
			w[i+j].addProduct(ai, bj)
		}
	}
}

// reduce sets dst to the value of w reduced modulo l and returns it.
func (w *wide) reduce(dst *edwards25519.Scalar) *edwards25519.Scalar {
	return reduceCols(dst, w[:])
}

// reduceCols sets dst to sum_k cols[k]*2^(64k) mod l and returns it. At most
// 8 columns.
func reduceCols(dst *edwards25519.Scalar, cols []col) *edwards25519.Scalar {
	if len(cols) > 8 {
		panic("compact: internal error: too many columns")
	}
	// Carry-propagate the columns into 10 plain limbs. Column k spans limbs
	// k, k+1 and k+2, so 8 columns span limbs 0..9.
	var r [10]uint64
	for k := range cols {
		for w := 0; w < 3; w++ {
			addAt(&r, k+w, cols[k][w])
		}
	}
	return reduceLimbs(dst, &r)
}

// addAt adds v*2^(64*pos) to r, rippling the carry upwards.
func addAt(r *[10]uint64, pos int, v uint64) {
	var cy uint64
	r[pos], cy = bits.Add64(r[pos], v, 0)
	for i := pos + 1; cy != 0; i++ {
		if i == len(r) {
			panic("compact: internal error: accumulator overflow")
		}
		r[i], cy = bits.Add64(r[i], 0, cy)
	}
}

// Constants 2^512 and 2^576 modulo l, for the limbs above the 64 bytes that
// SetUniformBytes takes.
var (
	two512 = func() *edwards25519.Scalar {
		var b [64]byte
		b[32] = 1 // 2^256
		s, _ := new(edwards25519.Scalar).SetUniformBytes(b[:])
		return s.Multiply(s, s)
	}()
	two576 = func() *edwards25519.Scalar {
		var b [32]byte
		b[8] = 1 // 2^64
		s, _ := new(edwards25519.Scalar).SetCanonicalBytes(b[:])
		return s.Multiply(s, two512)
	}()
)

// reduceLimbs sets dst to the 640-bit little-endian integer r modulo l and
// returns it.
func reduceLimbs(dst *edwards25519.Scalar, r *[10]uint64) *edwards25519.Scalar {
	var b [64]byte
	for i := 0; i < 8; i++ {
		binary.LittleEndian.PutUint64(b[8*i:], r[i])
	}
	if _, err := dst.SetUniformBytes(b[:]); err != nil {
		panic("compact: internal error: " + err.Error())
	}
	if r[8] != 0 || r[9] != 0 {
		var t edwards25519.Scalar
		dst.MultiplyAdd(limbScalar(&t, r[8]), two512, dst)
		dst.MultiplyAdd(limbScalar(&t, r[9]), two576, dst)
	}
	return dst
}

// limbScalar sets dst to v (v < 2^64 < l) and returns it.
func limbScalar(dst *edwards25519.Scalar, v uint64) *edwards25519.Scalar {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if _, err := dst.SetCanonicalBytes(b[:]); err != nil {
		panic("compact: internal error: " + err.Error())
	}
	return dst
}

// limbs returns the canonical scalar s as four little-endian 64-bit limbs.
func limbs(s *edwards25519.Scalar) [4]uint64 {
	b := s.Bytes()
	return [4]uint64{
		binary.LittleEndian.Uint64(b[0:]),
		binary.LittleEndian.Uint64(b[8:]),
		binary.LittleEndian.Uint64(b[16:]),
		binary.LittleEndian.Uint64(b[24:]),
	}
}

// sectorLimbs reads a 31-byte sector as four limbs. The last load starts at
// byte 23 and drops its first byte, so no byte past the sector is read.
func sectorLimbs(p []byte) (m0, m1, m2, m3 uint64) {
	_ = p[SectorSize-1]
	m0 = binary.LittleEndian.Uint64(p[0:8])
	m1 = binary.LittleEndian.Uint64(p[8:16])
	m2 = binary.LittleEndian.Uint64(p[16:24])
	m3 = binary.LittleEndian.Uint64(p[23:31]) >> 8
	return
}

// muCols is the unreduced mu_j of a proof in progress: a coefficient of up
// to 3 limbs times a 4-limb sector gives six columns.
type muCols [6]col

// accumulateBlock adds nu*m_j to mu[j] for every sector m_j of block. It is
// the proving hot loop: 8 multiplications per sector for a 128-bit nu, and 4
// more in a second pass when nu[2] is set (a block drawn more than once).
func accumulateBlock(mu *[Sectors]muCols, block *[BlockSize]byte, nu [3]uint64) {
	nu0, nu1 := nu[0], nu[1]
	var hi, lo, cy uint64
	for j := 0; j < Sectors; j++ {
		m0, m1, m2, m3 := sectorLimbs(block[j*SectorSize : j*SectorSize+SectorSize])
		c := &mu[j]

		hi, lo = bits.Mul64(nu0, m0)
		c[0][0], cy = bits.Add64(c[0][0], lo, 0)
		c[0][1], cy = bits.Add64(c[0][1], hi, cy)
		c[0][2] += cy

		hi, lo = bits.Mul64(nu0, m1)
		c[1][0], cy = bits.Add64(c[1][0], lo, 0)
		c[1][1], cy = bits.Add64(c[1][1], hi, cy)
		c[1][2] += cy
		hi, lo = bits.Mul64(nu1, m0)
		c[1][0], cy = bits.Add64(c[1][0], lo, 0)
		c[1][1], cy = bits.Add64(c[1][1], hi, cy)
		c[1][2] += cy

		hi, lo = bits.Mul64(nu0, m2)
		c[2][0], cy = bits.Add64(c[2][0], lo, 0)
		c[2][1], cy = bits.Add64(c[2][1], hi, cy)
		c[2][2] += cy
		hi, lo = bits.Mul64(nu1, m1)
		c[2][0], cy = bits.Add64(c[2][0], lo, 0)
		c[2][1], cy = bits.Add64(c[2][1], hi, cy)
		c[2][2] += cy

		hi, lo = bits.Mul64(nu0, m3)
		c[3][0], cy = bits.Add64(c[3][0], lo, 0)
		c[3][1], cy = bits.Add64(c[3][1], hi, cy)
		c[3][2] += cy
		hi, lo = bits.Mul64(nu1, m2)
		c[3][0], cy = bits.Add64(c[3][0], lo, 0)
		c[3][1], cy = bits.Add64(c[3][1], hi, cy)
		c[3][2] += cy

		hi, lo = bits.Mul64(nu1, m3)
		c[4][0], cy = bits.Add64(c[4][0], lo, 0)
		c[4][1], cy = bits.Add64(c[4][1], hi, cy)
		c[4][2] += cy
	}
	if nu[2] == 0 {
		return
	}
	for j := 0; j < Sectors; j++ {
		m := [4]uint64{}
		m[0], m[1], m[2], m[3] = sectorLimbs(block[j*SectorSize : j*SectorSize+SectorSize])
		for k, mk := range m {
			mu[j][2+k].addProduct(nu[2], mk)
		}
	}
}

// innerProduct returns sum_j alpha_j*m_j over the sectors m_j of one
// block, unreduced, as four rows: row i is sum_j alpha_j[i]*m_j, where
// alpha_j[i] is limb i of alpha_j, so the sum is sum_i row_i*2^(64i). It is
// the tagging hot loop. Each row is one pass over the block: a 64x248-bit
// product formed with a carry chain (4 multiplications, 4 additions) and
// added into five words (5 additions), few enough live values that they
// stay in registers. The same sum kept as seven three-word columns in one
// pass spilled to the stack and ran about a quarter slower.
//
// Bound: each row term is below 2^64 * 2^248, so the 200 of a block sum to
// less than 2^320 and five words never overflow.
func innerProduct(alpha *[Sectors][4]uint64, block *[BlockSize]byte) (rows [4][5]uint64) {
	for i := 0; i < 4; i++ {
		var r0, r1, r2, r3, r4 uint64
		for j := 0; j < Sectors; j++ {
			m0, m1, m2, m3 := sectorLimbs(block[j*SectorSize : j*SectorSize+SectorSize])
			a := alpha[j][i]
			h0, l0 := bits.Mul64(a, m0)
			h1, l1 := bits.Mul64(a, m1)
			h2, l2 := bits.Mul64(a, m2)
			h3, l3 := bits.Mul64(a, m3)
			p1, c := bits.Add64(h0, l1, 0)
			p2, c := bits.Add64(h1, l2, c)
			p3, c := bits.Add64(h2, l3, c)
			p4 := h3 + c
			r0, c = bits.Add64(r0, l0, 0)
			r1, c = bits.Add64(r1, p1, c)
			r2, c = bits.Add64(r2, p2, c)
			r3, c = bits.Add64(r3, p3, c)
			r4 += p4 + c
		}
		rows[i] = [5]uint64{r0, r1, r2, r3, r4}
	}
	return rows
}

// reduceRows sets dst to sum_i rows[i]*2^(64i) mod l and returns it.
func reduceRows(dst *edwards25519.Scalar, rows *[4][5]uint64) *edwards25519.Scalar {
	var r [10]uint64
	for i := range rows {
		for k, v := range rows[i] {
			addAt(&r, i+k, v)
		}
	}
	return reduceLimbs(dst, &r)
}
