package batch

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"math/bits"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// Item is one signature to check: Signature over Message by PublicKey.
type Item struct {
	PublicKey ed25519.PublicKey
	Message   []byte
	Signature []byte
}

const (
	// DefaultMinBatch is the smallest number of items verified with the
	// batch equation; fewer go one by one. The torsion check costs 128
	// scalar multiplications per batch, which only pays off above a few
	// hundred signatures.
	DefaultMinBatch = 256

	// rounds is the number of random subsets in the torsion check; each
	// misses a bad item with probability at most 1/2.
	rounds = 128

	// blockBits is how many items share one table of subset sums in the
	// torsion check: 2^blockBits-1 additions build the table, then each
	// round takes one entry for all blockBits items.
	blockBits = 6

	// msmChunk bounds the points per multi-scalar multiplication, and so
	// the memory of its tables, at little cost: doublings are shared only
	// within a chunk, and 256 doublings per chunk are small next to the
	// per-point additions.
	msmChunk = 512
)

// lMinusOne is l-1, the largest scalar: [l]P is computed as [l-1]P + P.
var lMinusOne = func() *edwards25519.Scalar {
	b := [32]byte{0xec, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		panic("batch: bad constant l-1")
	}
	return s
}()

// Verify reports, for each item, whether crypto/ed25519.Verify accepts it.
func Verify(items []Item) []bool {
	return NewVerifier().Verify(items, nil)
}

// VerifyAll reports whether crypto/ed25519.Verify accepts every item.
func VerifyAll(items []Item) bool {
	return NewVerifier().VerifyAll(items)
}

// Verifier keeps scratch space between calls so that verifying batch after
// batch does not allocate per call. It is not safe for concurrent use.
type Verifier struct {
	// MinBatch is the smallest batch checked with the batch equation;
	// smaller ones, and the halves of failed batches once they are this
	// small, are verified one by one. Zero means DefaultMinBatch.
	MinBatch int

	prep   []prepared
	keys   []key
	keyIdx map[[32]byte]int32
	used   []bool
	live   []int32
	rnd    []byte
	scal   []*edwards25519.Scalar
	pts    []*edwards25519.Point
	scBuf  []edwards25519.Scalar
	acc    [rounds]edwards25519.Point
	table  [1 << blockBits]edwards25519.Point
}

// NewVerifier returns a Verifier with the default minimum batch size. The
// zero Verifier is also ready to use.
func NewVerifier() *Verifier {
	return &Verifier{}
}

// prepared is an item that passed the preconditions, decoded once and
// shared by every batch it is part of while bisecting.
type prepared struct {
	r   edwards25519.Point
	y   edwards25519.Point // R + [k mod 8]A, whose small-order part must be zero
	k   edwards25519.Scalar
	s   edwards25519.Scalar
	key int32
}

type key struct {
	a   edwards25519.Point
	sum edwards25519.Scalar // Σ z_i k_i over the current batch's items with this key
}

func (v *Verifier) minBatch() int {
	if v.MinBatch > 0 {
		return v.MinBatch
	}
	return DefaultMinBatch
}

// Verify sets out[i] to whether crypto/ed25519.Verify accepts items[i] and
// returns out, reusing out's storage when it is large enough.
func (v *Verifier) Verify(items []Item, out []bool) []bool {
	if cap(out) < len(items) {
		out = make([]bool, len(items))
	}
	out = out[:len(items)]
	clear(out)
	if len(items) < v.minBatch() {
		for i := range items {
			out[i] = verifyOne(&items[i])
		}
		return out
	}
	v.prepare(items)
	v.bisect(items, v.live, out)
	return out
}

// VerifyAll reports whether crypto/ed25519.Verify accepts every item. A
// failing batch is not bisected: one bad item is enough to answer.
func (v *Verifier) VerifyAll(items []Item) bool {
	if len(items) < v.minBatch() {
		for i := range items {
			if !verifyOne(&items[i]) {
				return false
			}
		}
		return true
	}
	v.prepare(items)
	return len(v.live) == len(items) && v.check(v.live)
}

func verifyOne(it *Item) bool {
	if len(it.PublicKey) != ed25519.PublicKeySize {
		return false // crypto/ed25519 would panic
	}
	return ed25519.Verify(it.PublicKey, it.Message, it.Signature)
}

// prepare decodes every item, rejects those that fail crypto/ed25519's
// preconditions, and lists the rest in v.live.
func (v *Verifier) prepare(items []Item) {
	if cap(v.prep) < len(items) {
		v.prep = make([]prepared, len(items))
	}
	v.prep = v.prep[:len(items)]
	v.keys = v.keys[:0]
	if v.keyIdx == nil {
		v.keyIdx = make(map[[32]byte]int32)
	}
	clear(v.keyIdx)
	v.live = v.live[:0]
	for i := range items {
		if v.prepareOne(&items[i], &v.prep[i]) {
			v.live = append(v.live, int32(i))
		}
	}
}

func (v *Verifier) prepareOne(it *Item, p *prepared) bool {
	sig := it.Signature
	if len(it.PublicKey) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	if _, err := p.s.SetCanonicalBytes(sig[32:]); err != nil {
		return false
	}
	if !decodeCanonical(&p.r, sig[:32]) {
		return false
	}
	kb := [32]byte(it.PublicKey)
	ki, ok := v.keyIdx[kb]
	if !ok {
		var a edwards25519.Point
		if _, err := a.SetBytes(kb[:]); err != nil {
			ki = -1
		} else {
			ki = int32(len(v.keys))
			v.keys = append(v.keys, key{a: a})
		}
		v.keyIdx[kb] = ki
	}
	if ki < 0 {
		return false
	}
	p.key = ki

	h := sha512.New()
	h.Write(sig[:32])
	h.Write(kb[:])
	h.Write(it.Message)
	var digest [sha512.Size]byte
	if _, err := p.k.SetUniformBytes(h.Sum(digest[:0])); err != nil {
		panic("batch: SHA-512 output is not 64 bytes")
	}

	// Y = R + [k mod 8]A carries the small-order part of D = [s]B - R - [k]A
	// (negated); see the package documentation.
	p.y.Set(&p.r)
	if m := p.k.Bytes()[0] & 7; m != 0 {
		var t edwards25519.Point
		t.Set(&v.keys[ki].a)
		for b := 1; b >= 0; b-- { // m < 8: at most two more bits below the top
			if m>>(b+1) == 0 {
				continue
			}
			t.Add(&t, &t)
			if m>>b&1 == 1 {
				t.Add(&t, &v.keys[ki].a)
			}
		}
		p.y.Add(&p.y, &t)
	}
	return true
}

// decodeCanonical decodes b into p and reports whether b is the canonical
// encoding of p, the only kind of R bytes crypto/ed25519 can accept (it
// compares them with an encoding it computes).
func decodeCanonical(p *edwards25519.Point, b []byte) bool {
	if _, err := p.SetBytes(b); err != nil {
		return false
	}
	var yb [32]byte
	copy(yb[:], b)
	yb[31] &= 0x7f
	var y field.Element
	if _, err := y.SetBytes(yb[:]); err != nil {
		return false
	}
	if [32]byte(y.Bytes()) != yb {
		return false // y >= p
	}
	if b[31]&0x80 != 0 {
		x, _, _, _ := p.ExtendedCoordinates()
		if x.Equal(new(field.Element)) == 1 {
			return false // x = 0 with the sign bit set ("-0")
		}
	}
	return true
}

// bisect sets out for the items in idx: all true if the batch holds,
// otherwise each half is tried, down to one-by-one verification.
func (v *Verifier) bisect(items []Item, idx []int32, out []bool) {
	if len(idx) == 0 {
		return
	}
	if len(idx) < v.minBatch() {
		for _, i := range idx {
			out[i] = verifyOne(&items[i])
		}
		return
	}
	if v.check(idx) {
		for _, i := range idx {
			out[i] = true
		}
		return
	}
	h := len(idx) / 2
	v.bisect(items, idx[:h], out)
	v.bisect(items, idx[h:], out)
}

// check reports whether the batch equation and the torsion check hold for
// the prepared items in idx, with fresh randomness.
func (v *Verifier) check(idx []int32) bool {
	n := len(idx)
	// 16 bytes of z and 16 bytes of subset membership (one bit per round)
	// per item.
	need := 32 * n
	if cap(v.rnd) < need {
		v.rnd = make([]byte, need)
	}
	v.rnd = v.rnd[:need]
	rand.Read(v.rnd)
	zs, member := v.rnd[:16*n], v.rnd[16*n:]
	return v.equation(idx, zs) && v.torsion(idx, member)
}

// equation checks [8]([Σ z_i s_i]B - Σ z_i R_i - Σ_A c_A A) = 0.
func (v *Verifier) equation(idx []int32, zs []byte) bool {
	for j := range v.keys {
		v.keys[j].sum = edwards25519.Scalar{}
	}
	if cap(v.scBuf) < msmChunk {
		v.scBuf = make([]edwards25519.Scalar, msmChunk)
		v.scal = make([]*edwards25519.Scalar, 0, msmChunk)
		v.pts = make([]*edwards25519.Point, 0, msmChunk)
	}
	var sSum, z edwards25519.Scalar
	var zb [32]byte
	var rhs, part edwards25519.Point
	rhs.Set(edwards25519.NewIdentityPoint())
	if cap(v.used) < len(v.keys) {
		v.used = make([]bool, len(v.keys))
	}
	usedKeys := v.used[:len(v.keys)]
	clear(usedKeys)
	v.scal, v.pts = v.scal[:0], v.pts[:0]
	flush := func() {
		if len(v.pts) == 0 {
			return
		}
		part.VarTimeMultiScalarMult(v.scal, v.pts)
		rhs.Add(&rhs, &part)
		v.scal, v.pts = v.scal[:0], v.pts[:0]
	}
	for n, i := range idx {
		p := &v.prep[i]
		copy(zb[:16], zs[16*n:16*n+16])
		if _, err := z.SetCanonicalBytes(zb[:]); err != nil {
			panic("batch: 128-bit scalar rejected")
		}
		sSum.MultiplyAdd(&z, &p.s, &sSum)
		k := &v.keys[p.key]
		k.sum.MultiplyAdd(&z, &p.k, &k.sum)
		usedKeys[p.key] = true
		sc := &v.scBuf[len(v.pts)]
		sc.Set(&z)
		v.scal = append(v.scal, sc)
		v.pts = append(v.pts, &p.r)
		if len(v.pts) == msmChunk {
			flush()
		}
	}
	for j := range v.keys {
		if !usedKeys[j] {
			continue
		}
		sc := &v.scBuf[len(v.pts)]
		sc.Set(&v.keys[j].sum)
		v.scal = append(v.scal, sc)
		v.pts = append(v.pts, &v.keys[j].a)
		if len(v.pts) == msmChunk {
			flush()
		}
	}
	flush()
	var lhs edwards25519.Point
	lhs.ScalarBaseMult(&sSum)
	lhs.Subtract(&lhs, &rhs)
	lhs.MultByCofactor(&lhs)
	return lhs.Equal(edwards25519.NewIdentityPoint()) == 1
}

// torsion checks, for each of the rounds random subsets S given by the bits
// of member, that Σ_{i∈S} Y_i has no small-order part.
func (v *Verifier) torsion(idx []int32, member []byte) bool {
	id := edwards25519.NewIdentityPoint()
	for j := range v.acc {
		v.acc[j].Set(id)
	}
	for start := 0; start < len(idx); start += blockBits {
		end := min(start+blockBits, len(idx))
		size := 1 << (end - start)
		v.table[0].Set(id)
		for g := 1; g < size; g++ {
			t := bits.TrailingZeros(uint(g))
			v.table[g].Add(&v.table[g&(g-1)], &v.prep[idx[start+t]].y)
		}
		var words [blockBits][2]uint64
		for t := start; t < end; t++ {
			m := member[16*t : 16*t+16]
			words[t-start] = [2]uint64{binary.LittleEndian.Uint64(m), binary.LittleEndian.Uint64(m[8:])}
		}
		for j := range rounds {
			w, b := j>>6, uint(j&63)
			g := 0
			for t := range end - start {
				g |= int(words[t][w]>>b&1) << t
			}
			if g != 0 {
				v.acc[j].Add(&v.acc[j], &v.table[g])
			}
		}
	}
	var lp edwards25519.Point
	zero := edwards25519.NewScalar()
	for j := range v.acc {
		// [l]X = [l-1]X + X is the identity exactly when X has no
		// small-order part.
		lp.VarTimeDoubleScalarBaseMult(lMinusOne, &v.acc[j], zero)
		lp.Add(&lp, &v.acc[j])
		if lp.Equal(id) != 1 {
			return false
		}
	}
	return true
}
