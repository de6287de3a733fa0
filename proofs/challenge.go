package proofs

import (
	"encoding/binary"
	"math"

	"github.com/zeebo/blake3"
)

// Seed selects the parts of a shard a challenge asks for. Derive it with
// MixSeed; it is sent to the prover only with the challenge.
type Seed [32]byte

// Context strings for BLAKE3's key derivation mode, one per use, so that a
// value derived for one purpose can never be replayed as another.
const (
	seedContext   = "dsn 2026-11 proofs challenge seed v1"
	sampleContext = "dsn 2026-11 proofs sample v1"
)

// MixSeed derives a challenge seed from the auditor's fresh randomness and the
// epoch beacon. Either input alone being fresh and unknown to the prover makes
// the seed unpredictable to it.
func MixSeed(auditorRandom [32]byte, beacon []byte) Seed {
	h := blake3.NewDeriveKey(seedContext)
	h.Write(auditorRandom[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(beacon)))
	h.Write(n[:])
	h.Write(beacon)
	var s Seed
	h.Digest().Read(s[:])
	return s
}

// Sample returns c indices in [0, n), drawn uniformly and independently (with
// replacement) from a stream keyed by seed and label. The label names what is
// sampled (a shard ID), so one seed challenges each shard at different places.
// Independence is what the detection bound 1-(1-f)^c assumes; callers that
// want distinct indices may deduplicate, which only raises detection.
//
// Sample panics if n is zero or c is negative: both are caller bugs, since a
// challenge of an empty shard is refused before sampling.
func Sample(seed Seed, label []byte, n uint64, c int) []uint64 {
	if n == 0 || c < 0 {
		panic("proofs: Sample of an empty range or a negative count")
	}
	h := blake3.NewDeriveKey(sampleContext)
	h.Write(seed[:])
	var l [8]byte
	binary.BigEndian.PutUint64(l[:], uint64(len(label)))
	h.Write(l[:])
	h.Write(label)
	xof := h.Digest()

	// Rejection sampling: draws at or above the largest multiple of n that
	// fits in 64 bits are thrown away, so every index is exactly equally
	// likely. At most half of all draws are rejected, whatever n is.
	limit := math.MaxUint64 - math.MaxUint64%n
	out := make([]uint64, 0, c)
	var buf [8]byte
	for len(out) < c {
		xof.Read(buf[:])
		v := binary.LittleEndian.Uint64(buf[:])
		if v >= limit {
			continue
		}
		out = append(out, v%n)
	}
	return out
}

// Detection is the probability that at least one of c independent uniform
// samples lands in a missing fraction f of a shard: 1-(1-f)^c.
func Detection(f float64, c int) float64 {
	return 1 - math.Pow(1-f, float64(c))
}

// SamplesFor is the smallest c such that a challenge of c samples detects a
// provider missing a fraction f of a shard with probability at least p.
// For f = 1% and p = 99% it is 459. It returns 1 if f >= 1 and panics on
// f <= 0 or p outside (0, 1), which no caller can want.
func SamplesFor(f, p float64) int {
	if !(f > 0) || !(p > 0 && p < 1) {
		panic("proofs: SamplesFor needs 0 < f and 0 < p < 1")
	}
	if f >= 1 {
		return 1
	}
	c := int(math.Ceil(math.Log1p(-p) / math.Log1p(-f)))
	// Floating point may land one off either way near an exact boundary.
	for c > 1 && Detection(f, c-1) >= p {
		c--
	}
	for Detection(f, c) < p {
		c++
	}
	return c
}
