package compact

import (
	"encoding/binary"

	"filippo.io/edwards25519"
	"github.com/dsn-project/dsn"
	"github.com/zeebo/blake3"
)

// Geometry of the scheme. See doc.go for why s = 200.
const (
	// SectorSize is the size of one sector: 31 bytes, so that every sector,
	// read as a little-endian integer below 2^248, is already a canonical
	// scalar and needs no reduction or encoding.
	SectorSize = 31
	// Sectors is s, the number of sectors in a block: one secret alpha_j per
	// sector position, one tag per block, s+1 scalars per proof.
	Sectors = 200
	// BlockSize is the number of shard bytes covered by one tag.
	BlockSize = SectorSize * Sectors
	// ScalarSize is the encoded size of a scalar (and of a tag).
	ScalarSize = 32
)

// Blocks returns the number of blocks of a shard of size bytes: the last is
// zero-padded to BlockSize.
func Blocks(size int64) int64 {
	if size <= 0 {
		return 0
	}
	return (size + BlockSize - 1) / BlockSize
}

// Context strings for BLAKE3's key derivation mode, one per use.
const (
	keyContext  = "dsn 2026-11 proofs compact owner key v1"
	coefContext = "dsn 2026-11 proofs compact coefficients v1"
)

// Key is an owner's secret proof key: a PRF key and the secrets
// alpha_1..alpha_s. Whoever holds it can tag shards and verify proofs; a
// provider must never see it (doc.go says why). One key serves all of an
// owner's shards, which is what lets a provider's answers aggregate.
//
// A Key is safe for concurrent use.
type Key struct {
	prf   [32]byte
	alpha [Sectors]edwards25519.Scalar
	// alphaLimbs holds the same values as 4x64-bit limbs for the lazy
	// kernels.
	alphaLimbs [Sectors][4]uint64
	// alphaIFMA is alpha laid out for the IFMA kernel, where it runs.
	alphaIFMA *ifmaAlpha
}

// NewKey derives the proof key from an owner's 32-byte secret. The
// derivation is deterministic, so the owner's node recomputes the same key
// from the same secret and nothing but the secret needs to be kept.
func NewKey(secret [32]byte) *Key {
	h := blake3.NewDeriveKey(keyContext)
	h.Write(secret[:])
	xof := h.Digest()
	k := new(Key)
	xof.Read(k.prf[:])
	var wide [64]byte
	for j := range k.alpha {
		// 64 uniform bytes reduced mod l: the bias is below 2^-250.
		xof.Read(wide[:])
		if _, err := k.alpha[j].SetUniformBytes(wide[:]); err != nil {
			panic("compact: internal error: " + err.Error())
		}
		k.alphaLimbs[j] = limbs(&k.alpha[j])
	}
	if haveIFMA {
		k.alphaIFMA = newIFMAAlpha(&k.alphaLimbs)
	}
	return k
}

// prf computes PRF(id, i) = keyed BLAKE3(id || i) as a scalar. Keyed BLAKE3
// is a PRF under the usual assumption on its compression function; the 64
// output bytes reduced mod l are uniform up to 2^-250.
type prf struct {
	h *blake3.Hasher
}

func newPRF(k *Key) prf {
	h, err := blake3.NewKeyed(k.prf[:])
	if err != nil {
		panic("compact: internal error: " + err.Error())
	}
	return prf{h: h}
}

// scalar sets dst to PRF(id, i) and returns it.
func (p prf) scalar(dst *edwards25519.Scalar, id dsn.ShardID, i uint64) *edwards25519.Scalar {
	var in [dsn.ShardIDSize + 8]byte
	copy(in[:], id[:])
	binary.LittleEndian.PutUint64(in[dsn.ShardIDSize:], i)
	p.h.Reset()
	p.h.Write(in[:])
	var out [64]byte
	p.h.Digest().Read(out[:])
	if _, err := dst.SetUniformBytes(out[:]); err != nil {
		panic("compact: internal error: " + err.Error())
	}
	return dst
}
