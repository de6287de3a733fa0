package compact

import (
	"bytes"
	"errors"
	"testing"

	"filippo.io/edwards25519"
)

// FuzzDecodeProof checks that DecodeProof never panics, fails only with
// ErrMalformedProof, and accepts exactly the canonical encodings: anything
// it accepts encodes back to the same bytes.
func FuzzDecodeProof(f *testing.F) {
	zero := make([]byte, ProofSize)
	zero[0] = ProofVersion
	f.Add(zero)
	f.Add(zero[:ProofSize-1])
	f.Add(append(bytes.Clone(zero), 0))
	f.Add(bytes.Repeat([]byte{0xff}, ProofSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProof(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedProof) {
				t.Fatalf("DecodeProof(%x) = %v, want %v", b, err, ErrMalformedProof)
			}
			return
		}
		if enc := p.Encode(); !bytes.Equal(enc, b) {
			t.Fatalf("DecodeProof(%x).Encode() = %x, want the input", b, enc)
		}
	})
}

// FuzzDecodeTags does the same for tag files, for the shard size the file
// claims to fit and for sizes around it.
func FuzzDecodeTags(f *testing.F) {
	k := testKey(1)
	for _, size := range []int{1, BlockSize, BlockSize + 1, 2*BlockSize + 9} {
		tags, _ := k.Tags([32]byte{byte(size)}, make([]byte, size))
		f.Add(tags, int64(size))
	}
	f.Add([]byte{TagsVersion}, int64(0))
	f.Add([]byte{}, int64(-1))
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		tags, err := DecodeTags(b, size)
		if err != nil {
			if !errors.Is(err, ErrMalformedTags) {
				t.Fatalf("DecodeTags(%x, %d) = %v, want %v", b, size, err, ErrMalformedTags)
			}
			return
		}
		if int64(len(tags)) != Blocks(size) {
			t.Fatalf("DecodeTags(%x, %d): %d tags, want %d", b, size, len(tags), Blocks(size))
		}
		if enc := EncodeTags(tags); !bytes.Equal(enc, b) {
			t.Fatalf("EncodeTags(DecodeTags(%x, %d)) = %x, want the input", b, size, enc)
		}
	})
}

// FuzzIFMA checks the IFMA tag kernel against the portable one on blocks
// and keys from the fuzzer: a block is the input repeated, the key derived
// from its first bytes.
func FuzzIFMA(f *testing.F) {
	if !haveIFMA {
		f.Skip("this CPU has no AVX-512 IFMA")
	}
	f.Add([]byte{0xff})
	f.Add([]byte{0})
	f.Add([]byte("sectors of 31 bytes, limbs of 52 bits"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		var block [BlockSize]byte
		for i := range block {
			block[i] = in[i%len(in)]
		}
		var secret [32]byte
		copy(secret[:], in)
		k := NewKey(secret)
		rows := innerProduct(&k.alphaLimbs, &block)
		want := reduceRows(new(edwards25519.Scalar), &rows)
		var cols [10][8]uint64
		innerProductIFMA(newIFMAAlpha(&k.alphaLimbs), &block, &cols)
		if got := reduceLanes(new(edwards25519.Scalar), &cols); got.Equal(want) != 1 {
			t.Fatalf("innerProductIFMA = %x, innerProduct = %x", got.Bytes(), want.Bytes())
		}
	})
}
