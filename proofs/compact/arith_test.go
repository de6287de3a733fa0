package compact

import (
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
)

// orderL is the group order l = 2^252 + 27742317777372353535851937790883648493.
var orderL, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// lMinus1 is the largest scalar.
var lMinus1 = func() *edwards25519.Scalar {
	one := new(edwards25519.Scalar)
	var b [32]byte
	b[0] = 1
	one.SetCanonicalBytes(b[:])
	return new(edwards25519.Scalar).Negate(one)
}()

// sectorScalar is the library's view of a 31-byte sector.
func sectorScalar(t testing.TB, sector []byte) *edwards25519.Scalar {
	var b [32]byte
	copy(b[:], sector)
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(b[:])
	if err != nil {
		t.Fatalf("sector %x is not canonical: %v", sector, err)
	}
	return s
}

func randScalar(rng *rand.Rand) *edwards25519.Scalar {
	var b [64]byte
	for i := 0; i < 64; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	s, _ := new(edwards25519.Scalar).SetUniformBytes(b[:])
	return s
}

// fillBlock fills a block with the pattern named by kind.
func fillBlock(rng *rand.Rand, kind string, b *[BlockSize]byte) {
	switch kind {
	case "zero":
		clear(b[:])
	case "ones":
		for i := range b {
			b[i] = 0xff
		}
	default:
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	}
}

// The tagging kernels must agree with Scalar.MultiplyAdd on random inputs
// and at the extremes of both operands, where carries and the reduction
// bound are stressed hardest. The IFMA kernel is checked where the CPU has
// it (see also FuzzIFMA).
func TestInnerProductMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, alphaKind := range []string{"random", "l-1", "zero"} {
		for _, dataKind := range []string{"random", "ones", "zero"} {
			for trial := 0; trial < 3; trial++ {
				var alpha [Sectors]edwards25519.Scalar
				var alphaLimbs [Sectors][4]uint64
				for j := range alpha {
					switch alphaKind {
					case "random":
						alpha[j].Set(randScalar(rng))
					case "l-1":
						alpha[j].Set(lMinus1)
					}
					alphaLimbs[j] = limbs(&alpha[j])
				}
				var block [BlockSize]byte
				fillBlock(rng, dataKind, &block)

				want := new(edwards25519.Scalar)
				for j := 0; j < Sectors; j++ {
					want.MultiplyAdd(&alpha[j], sectorScalar(t, block[j*SectorSize:(j+1)*SectorSize]), want)
				}
				rows := innerProduct(&alphaLimbs, &block)
				if got := reduceRows(new(edwards25519.Scalar), &rows); got.Equal(want) != 1 {
					t.Errorf("alpha %s, data %s: innerProduct = %x, want %x", alphaKind, dataKind, got.Bytes(), want.Bytes())
				}
				var w wide
				for j := 0; j < Sectors; j++ {
					m0, m1, m2, m3 := sectorLimbs(block[j*SectorSize:])
					w.mulAdd(alphaLimbs[j][:], []uint64{m0, m1, m2, m3})
				}
				if got := w.reduce(new(edwards25519.Scalar)); got.Equal(want) != 1 {
					t.Errorf("alpha %s, data %s: wide.mulAdd = %x, want %x", alphaKind, dataKind, got.Bytes(), want.Bytes())
				}
				if haveIFMA {
					var cols [10][8]uint64
					innerProductIFMA(newIFMAAlpha(&alphaLimbs), &block, &cols)
					if got := reduceLanes(new(edwards25519.Scalar), &cols); got.Equal(want) != 1 {
						t.Errorf("alpha %s, data %s: innerProductIFMA = %x, want %x", alphaKind, dataKind, got.Bytes(), want.Bytes())
					}
				}
			}
		}
	}
}

// The proving kernel must agree with the library for coefficients up to
// 2^128-1 and many blocks added into the same accumulators.
func TestAccumulateBlockMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var mu [Sectors]muCols
	var want [Sectors]edwards25519.Scalar
	for blk := 0; blk < 40; blk++ {
		var block [BlockSize]byte
		fillBlock(rng, []string{"random", "ones", "zero"}[blk%3], &block)
		n := [3]uint64{rng.Uint64(), rng.Uint64(), 0}
		switch blk % 4 {
		case 1:
			n = [3]uint64{^uint64(0), ^uint64(0), 0}
		case 2:
			n[2] = uint64(rng.IntN(1 << 16))
		case 3:
			n = [3]uint64{^uint64(0), ^uint64(0), 1<<16 - 1}
		}
		var nb [32]byte
		for i, v := range n {
			binary.LittleEndian.PutUint64(nb[8*i:], v)
		}
		nu, _ := new(edwards25519.Scalar).SetCanonicalBytes(nb[:])
		accumulateBlock(&mu, &block, n)
		for j := range want {
			want[j].MultiplyAdd(nu, sectorScalar(t, block[j*SectorSize:(j+1)*SectorSize]), &want[j])
		}
	}
	for j := range want {
		if got := reduceCols(new(edwards25519.Scalar), mu[j][:]); got.Equal(&want[j]) != 1 {
			t.Fatalf("mu_%d = %x, want %x", j, got.Bytes(), want[j].Bytes())
		}
	}
}

// reduceLimbs is checked against math/big on random values of every width
// it accepts, and on the largest.
func TestReduceLimbsMatchesBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 200; trial++ {
		var r [10]uint64
		width := trial % 11
		for i := 0; i < width; i++ {
			r[i] = rng.Uint64()
		}
		if trial == 199 {
			for i := range r {
				r[i] = ^uint64(0)
			}
		}
		n := new(big.Int)
		for i := len(r) - 1; i >= 0; i-- {
			n.Lsh(n, 64)
			n.Or(n, new(big.Int).SetUint64(r[i]))
		}
		n.Mod(n, orderL)
		want := make([]byte, 32)
		n.FillBytes(want)
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			want[i], want[j] = want[j], want[i]
		}
		rr := r
		if got := reduceLimbs(new(edwards25519.Scalar), &rr).Bytes(); string(got) != string(want) {
			t.Fatalf("reduceLimbs(%x) = %x, want %x", r, got, want)
		}
	}
}
