package batch

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"filippo.io/edwards25519"
)

// signer holds a secret scalar so tests can sign for any public point,
// including keys with a small-order part, which crypto/ed25519 cannot make.
type signer struct {
	a   edwards25519.Scalar
	pub [32]byte // may encode [a]B plus a small-order point
}

func newSigner(rng *rand.ChaCha8) *signer {
	var seed [64]byte
	rng.Read(seed[:])
	s := &signer{}
	s.a.SetUniformBytes(seed[:])
	s.pub = [32]byte(new(edwards25519.Point).ScalarBaseMult(&s.a).Bytes())
	return s
}

func challenge(r, a, msg []byte) *edwards25519.Scalar {
	h := sha512.New()
	h.Write(r)
	h.Write(a)
	h.Write(msg)
	k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	return k
}

// sign returns (R, s) with R = [r]B + extra and s = r + k·a, retrying r
// until want(k) holds.
func (s *signer) sign(rng *rand.ChaCha8, msg []byte, extra *edwards25519.Point, want func(k *edwards25519.Scalar) bool) []byte {
	for {
		var seed [64]byte
		rng.Read(seed[:])
		r, _ := edwards25519.NewScalar().SetUniformBytes(seed[:])
		R := new(edwards25519.Point).ScalarBaseMult(r)
		if extra != nil {
			R.Add(R, extra)
		}
		rb := R.Bytes()
		k := challenge(rb, s.pub[:], msg)
		if want != nil && !want(k) {
			continue
		}
		sc := edwards25519.NewScalar().MultiplyAdd(k, &s.a, r)
		return append(rb, sc.Bytes()...)
	}
}

// torsion8 returns a point of order 8.
func torsion8() *edwards25519.Point {
	rng := rand.NewChaCha8([32]byte{8})
	for {
		var b [32]byte
		rng.Read(b[:])
		P, err := new(edwards25519.Point).SetBytes(b[:])
		if err != nil {
			continue
		}
		Q := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(lMinusOne, P, edwards25519.NewScalar())
		Q.Add(Q, P)
		Q4 := new(edwards25519.Point).Add(Q, Q)
		Q4.Add(Q4, Q4)
		if Q4.Equal(edwards25519.NewIdentityPoint()) == 0 {
			return Q
		}
	}
}

func multiple(T *edwards25519.Point, m int) *edwards25519.Point {
	P := edwards25519.NewIdentityPoint()
	for range m {
		P.Add(P, T)
	}
	return P
}

func validItems(rng *rand.ChaCha8, n, nkeys int) []Item {
	keys := make([]ed25519.PrivateKey, nkeys)
	for i := range keys {
		var seed [32]byte
		rng.Read(seed[:])
		keys[i] = ed25519.NewKeyFromSeed(seed[:])
	}
	items := make([]Item, n)
	for i := range items {
		k := keys[i%nkeys]
		msg := fmt.Appendf(nil, "receipt %d", i)
		items[i] = Item{PublicKey: k.Public().(ed25519.PublicKey), Message: msg, Signature: ed25519.Sign(k, msg)}
	}
	return items
}

func want(items []Item) []bool {
	out := make([]bool, len(items))
	for i, it := range items {
		out[i] = len(it.PublicKey) == 32 && ed25519.Verify(it.PublicKey, it.Message, it.Signature)
	}
	return out
}

func checkAgree(t *testing.T, v *Verifier, items []Item, label string) {
	t.Helper()
	w := want(items)
	got := v.Verify(items, nil)
	for i := range items {
		if got[i] != w[i] {
			t.Errorf("%s: Verify(batch)[%d] = %v, ed25519.Verify = %v (key %x sig %x)", label, i, got[i], w[i], items[i].PublicKey, items[i].Signature)
		}
	}
	all := true
	for _, ok := range w {
		all = all && ok
	}
	if g := v.VerifyAll(items); g != all {
		t.Errorf("%s: VerifyAll = %v, want %v", label, g, all)
	}
}

func TestValidBatches(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{1})
	for _, tc := range []struct{ n, keys, minBatch int }{
		{0, 1, 0}, {1, 1, 0}, {5, 5, 2}, {64, 64, 8}, {300, 300, 0}, {300, 3, 0}, {513, 1, 16},
	} {
		items := validItems(rng, tc.n, tc.keys)
		v := &Verifier{MinBatch: tc.minBatch}
		got := v.Verify(items, nil)
		for i, ok := range got {
			if !ok {
				t.Errorf("n=%d keys=%d: Verify[%d] = false for a valid signature", tc.n, tc.keys, i)
			}
		}
		if !v.VerifyAll(items) {
			t.Errorf("n=%d keys=%d: VerifyAll = false for valid signatures", tc.n, tc.keys)
		}
	}
}

// invalidCase makes one item from a valid one; goValid is what
// crypto/ed25519.Verify must say, so that the case tests what it claims.
type invalidCase struct {
	name    string
	make    func(it Item) Item
	goValid bool
}

func TestMatchesCryptoEd25519(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{2})
	T := torsion8()
	T2 := multiple(T, 4) // order 2
	other := validItems(rng, 1, 1)[0]
	l := [32]byte(lMinusOne.Bytes())
	l[0]++ // l itself, little-endian
	addScalarBytes := func(a, b []byte) []byte {
		out := make([]byte, 32)
		c := 0
		for i := range 32 {
			c += int(a[i]) + int(b[i])
			out[i] = byte(c)
			c >>= 8
		}
		return out
	}
	withSig := func(it Item, sig []byte) Item { it.Signature = sig; return it }
	addToR := func(P *edwards25519.Point) func(Item) Item {
		return func(it Item) Item {
			R, _ := new(edwards25519.Point).SetBytes(it.Signature[:32])
			R.Add(R, P)
			return withSig(it, append(R.Bytes(), it.Signature[32:]...))
		}
	}
	cases := []invalidCase{
		{"wrong message", func(it Item) Item { it.Message = append([]byte("x"), it.Message...); return it }, false},
		{"wrong key", func(it Item) Item { it.PublicKey = other.PublicKey; return it }, false},
		{"flipped bit in R", func(it Item) Item {
			s := bytes.Clone(it.Signature)
			s[3] ^= 0x10
			return withSig(it, s)
		}, false},
		{"flipped bit in s", func(it Item) Item {
			s := bytes.Clone(it.Signature)
			s[40] ^= 0x01
			return withSig(it, s)
		}, false},
		{"s+l", func(it Item) Item {
			return withSig(it, append(bytes.Clone(it.Signature[:32]), addScalarBytes(it.Signature[32:], l[:])...))
		}, false},
		{"short signature", func(it Item) Item { return withSig(it, it.Signature[:63]) }, false},
		{"short key", func(it Item) Item { it.PublicKey = it.PublicKey[:31]; return it }, false},
		{"R plus order-2 point", addToR(T2), false},
		{"R plus order-8 point", addToR(T), false},
		{"R plus order-4 point", addToR(multiple(T, 2)), false},
		{"A plus order-8 point", func(it Item) Item {
			A, _ := new(edwards25519.Point).SetBytes(it.PublicKey)
			it.PublicKey = A.Add(A, T).Bytes()
			return it
		}, false},
		{"identity R, s=0", func(it Item) Item {
			return withSig(it, append(edwards25519.NewIdentityPoint().Bytes(), make([]byte, 32)...))
		}, false},
		{"all-zero signature", func(it Item) Item { return withSig(it, make([]byte, 64)) }, false},
	}
	// Small-order keys: every one of the 8 small-order points, with R chosen
	// so that crypto/ed25519 accepts (R = -[k]A, s = 0) and with R off by an
	// order-2 point so that it rejects while the cofactored equation holds.
	for m := range 8 {
		A := multiple(T, m)
		ab := A.Bytes()
		cases = append(cases, invalidCase{fmt.Sprintf("small-order A=[%d]T, R=-[k]A, s=0", m), func(it Item) Item {
			for j := 0; ; j++ {
				Rcand := multiple(T, j%8)
				msg := fmt.Appendf(nil, "%s %d", it.Message, j)
				k := challenge(Rcand.Bytes(), ab, msg)
				kA := new(edwards25519.Point).ScalarMult(k, A)
				if kA.Negate(kA).Equal(Rcand) == 1 {
					return Item{PublicKey: ab, Message: msg, Signature: append(Rcand.Bytes(), make([]byte, 32)...)}
				}
			}
		}, true})
		cases = append(cases, invalidCase{fmt.Sprintf("small-order A=[%d]T, R=-[k]A+T2, s=0", m), func(it Item) Item {
			it.PublicKey = ab
			for j := 0; ; j++ {
				msg := fmt.Appendf(nil, "%s %d", it.Message, j)
				Rcand := multiple(T, j%8)
				k := challenge(Rcand.Bytes(), ab, msg)
				kA := new(edwards25519.Point).ScalarMult(k, A)
				if kA.Negate(kA).Add(kA, T2).Equal(Rcand) == 1 {
					return Item{PublicKey: ab, Message: msg, Signature: append(Rcand.Bytes(), make([]byte, 32)...)}
				}
			}
		}, false})
	}
	// Mixed-order keys A' = [a]B + T with signatures crypto/ed25519 accepts
	// (R = [r]B - [k]T), and the same with an order-2 point added to R.
	mixed := func(j int, extraR *edwards25519.Point) func(Item) Item {
		return func(it Item) Item {
			s := newSigner(rng)
			A := new(edwards25519.Point).ScalarBaseMult(&s.a)
			Tj := multiple(T, j)
			s.pub = [32]byte(A.Add(A, T).Bytes())
			// R = [r]B + T_j is right when [k]T = -T_j.
			sig := s.sign(rng, it.Message, Tj, func(k *edwards25519.Scalar) bool {
				kT := new(edwards25519.Point).ScalarMult(k, T)
				return kT.Add(kT, Tj).Equal(edwards25519.NewIdentityPoint()) == 1
			})
			if extraR != nil {
				R, _ := new(edwards25519.Point).SetBytes(sig[:32])
				sig = append(R.Add(R, extraR).Bytes(), sig[32:]...)
			}
			return Item{PublicKey: s.pub[:], Message: it.Message, Signature: sig}
		}
	}
	// Torsion-free keys signing with R = [r]B + T_j (k computed over that
	// R): [s]B - R - [k]A = -T_j, so crypto/ed25519 rejects while the
	// cofactored equation holds.
	for j := 1; j < 8; j++ {
		cases = append(cases, invalidCase{fmt.Sprintf("R = [r]B + [%d]T signed", j), func(it Item) Item {
			s := newSigner(rng)
			return Item{PublicKey: s.pub[:], Message: it.Message, Signature: s.sign(rng, it.Message, multiple(T, j), nil)}
		}, false})
	}
	for j := range 8 {
		cases = append(cases,
			invalidCase{fmt.Sprintf("mixed-order A, R with [%d]T, valid", j), mixed(j, nil), true},
			invalidCase{fmt.Sprintf("mixed-order A, R with [%d]T plus order-2", j), mixed(j, T2), false})
	}
	// Non-canonical encodings: y+p for the small-order points with y < 19
	// (y = 1, the identity, and y = 0... via "-0" sign bits).
	nonCanon := [][]byte{
		mustHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p, i.e. 0
		mustHex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // y = p+1, i.e. identity
		mustHex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), // same, sign bit set
		mustHex("0100000000000000000000000000000000000000000000000000000000000080"), // identity with "-0"
		mustHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), // y = -1, x = 0 with sign bit
	}
	for n, enc := range nonCanon {
		cases = append(cases,
			invalidCase{fmt.Sprintf("non-canonical R %d", n), func(it Item) Item {
				return withSig(it, append(bytes.Clone(enc), it.Signature[32:]...))
			}, false},
			invalidCase{fmt.Sprintf("non-canonical R %d, s=0, small-order A", n), func(it Item) Item {
				it.PublicKey = edwards25519.NewIdentityPoint().Bytes()
				return withSig(it, append(bytes.Clone(enc), make([]byte, 32)...))
			}, false},
		)
		// A non-canonical A that decodes is accepted by crypto/ed25519 when
		// the equation holds: with A the identity (or the order-2 point),
		// [s]B - [k]A = R for s = 0 and R = identity.
		if _, err := new(edwards25519.Point).SetBytes(enc); err == nil {
			cases = append(cases, invalidCase{fmt.Sprintf("non-canonical A %d", n), func(it Item) Item {
				it.PublicKey = bytes.Clone(enc)
				A, _ := new(edwards25519.Point).SetBytes(enc)
				for j := 0; ; j++ {
					msg := fmt.Appendf(nil, "%s %d", it.Message, j)
					R := edwards25519.NewIdentityPoint()
					k := challenge(R.Bytes(), enc, msg)
					kA := new(edwards25519.Point).ScalarMult(k, A)
					if kA.Equal(R) == 1 {
						return Item{PublicKey: it.PublicKey, Message: msg, Signature: append(R.Bytes(), make([]byte, 32)...)}
					}
				}
			}, true})
		}
	}

	base := validItems(rng, 300, 20)
	pick := rand.New(rng)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := tc.make(base[0])
			g := len(bad.PublicKey) == 32 && ed25519.Verify(bad.PublicKey, bad.Message, bad.Signature)
			if g != tc.goValid {
				t.Fatalf("test construction: ed25519.Verify = %v, want %v", g, tc.goValid)
			}
			// Invalid items mixed in at random positions, alone and
			// several at once, through both the default and a small
			// minimum batch (deep bisection).
			items := append([]Item(nil), base...)
			for range 3 {
				items[pick.IntN(len(items))] = tc.make(base[pick.IntN(len(base))])
			}
			checkAgree(t, NewVerifier(), items, "default")
			checkAgree(t, &Verifier{MinBatch: 32}, items, "MinBatch=32")
		})
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestTorsionCheckIsNeeded shows the batch equation alone would accept a
// signature crypto/ed25519 rejects, and that the torsion check catches it.
func TestTorsionCheckIsNeeded(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{3})
	T2 := multiple(torsion8(), 4)
	items := validItems(rng, 300, 300)
	s := newSigner(rng)
	items[7] = Item{PublicKey: s.pub[:], Message: []byte("m"), Signature: s.sign(rng, []byte("m"), T2, nil)}
	if ed25519.Verify(items[7].PublicKey, items[7].Message, items[7].Signature) {
		t.Fatal("test construction: ed25519.Verify accepts R = [r]B + order-2 point")
	}
	v := NewVerifier()
	v.prepare(items)
	if len(v.live) != len(items) {
		t.Fatalf("prepare kept %d of %d items, want all", len(v.live), len(items))
	}
	zs := make([]byte, 16*len(items))
	rng.Read(zs)
	if !v.equation(v.live, zs) {
		t.Fatal("cofactored equation rejects R + order-2 point; the torsion check would not be needed")
	}
	member := make([]byte, 16*len(items))
	rng.Read(member)
	if v.torsion(v.live, member) {
		t.Error("torsion check accepts R + order-2 point")
	}
	if got := v.Verify(items, nil)[7]; got {
		t.Error("Verify(batch)[7] = true for R + order-2 point, ed25519.Verify = false")
	}
}

// TestSpeccheckVectors runs the edge cases of Chalkias, Garillot and
// Nikolaenko, "Taming the many EdDSAs" (SSR 2020), from
// novifinancial/ed25519-speccheck, inside a batch of valid signatures.
func TestSpeccheckVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/speccheck_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Message   string `json:"message"`
		PubKey    string `json:"pub_key"`
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 10 {
		t.Fatalf("read %d speccheck cases, want 10", len(cases))
	}
	rng := rand.NewChaCha8([32]byte{4})
	items := validItems(rng, 300, 30)
	accepted := 0
	for i, c := range cases {
		it := Item{PublicKey: mustHex(c.PubKey), Message: mustHex(c.Message), Signature: mustHex(c.Signature)}
		items[i*29+3] = it
		if ed25519.Verify(it.PublicKey, it.Message, it.Signature) {
			accepted++
		}
	}
	// crypto/ed25519 accepts cases 0-5 per the speccheck results table
	// (cofactorless, s < l, non-canonical R rejected).
	if accepted == 0 || accepted == len(cases) {
		t.Fatalf("ed25519.Verify accepts %d of %d speccheck cases; want some of each", accepted, len(cases))
	}
	checkAgree(t, NewVerifier(), items, "speccheck")
	checkAgree(t, &Verifier{MinBatch: 4}, items, "speccheck MinBatch=4")
}

func TestVerifierReuse(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{5})
	v := &Verifier{MinBatch: 8}
	var out []bool
	for round := range 3 {
		items := validItems(rng, 40+round, 4+round)
		if round == 1 {
			items[5].Message = []byte("tampered")
		}
		out = v.Verify(items, out)
		w := want(items)
		for i := range items {
			if out[i] != w[i] {
				t.Errorf("round %d: Verify[%d] = %v, want %v", round, i, out[i], w[i])
			}
		}
	}
}
