// Package compact implements compact proofs of retrievability with private
// verification: the scheme of Shacham and Waters, "Compact Proofs of
// Retrievability", ASIACRYPT 2008 (the private-verification scheme built
// from a PRF), over the scalar field of edwards25519, Z_l with
// l = 2^252 + 27742317777372353535851937790883648493.
//
// It owns the owner's proof key, tagging a shard, challenges over one or
// many shards, the prover's arithmetic, verification, and the byte formats
// of tags and proofs. It does not own seeds or sampling (package proofs),
// storing tags beside shards, sending challenges, scheduling audits or
// recording results (package node): it is pure logic with no I/O of its
// own, and reads shard bytes only through the io.ReaderAt it is handed.
//
// # Scheme
//
// A shard is cut into sectors of 31 bytes, each read as a little-endian
// integer m < 2^248 < l, so every sector is already a canonical scalar. s =
// 200 sectors make a block of 6200 bytes; the last block of a shard is
// zero-padded. The owner's Key, derived by BLAKE3 in key-derivation mode
// from a 32-byte owner secret, holds a PRF key and secret scalars alpha_1 ..
// alpha_s. Block i of shard id gets the tag
//
//	sigma_i = PRF(id, i) + sum_j alpha_j*m_ij  (mod l)
//
// where PRF is keyed BLAKE3 of id||i, 64 bytes reduced mod l. Tags are
// stored with the shard by its provider: 32 bytes per 6200, 0.52%.
//
// A challenge is a seed and a list of shards with their sizes. For each
// shard, proofs.Sample draws c block indices with the shard ID as label, and
// a separate BLAKE3 stream keyed by the seed and shard draws c coefficients
// nu < 2^128. The provider answers with one proof for all the shards:
//
//	mu_j  = sum nu*m_ij     (j = 1..s)
//	sigma = sum nu*sigma_i
//
// over every challenged block of every shard: s+1 = 201 scalars, 6433
// bytes with a version byte, whatever c and however many shards. The owner
// accepts iff sigma = sum nu*PRF(id, i) + sum_j alpha_j*mu_j.
//
// # Why it is sound
//
// Shacham and Waters prove that any prover answering a non-negligible
// fraction of challenges correctly can be turned into an extractor that
// recovers the challenged blocks, so passing means holding the data. The
// core of the argument: with the PRF replaced by a random function, the
// tags are one-time MACs of the blocks under a secret linear key, so
// producing a (mu', sigma') that passes with mu' different from the honest
// mu means guessing sum alpha_j*(mu'_j - mu_j), which succeeds with
// probability 1/l. A prover that lost a fraction f of the blocks is caught
// when a challenge touches one: 1-(1-f)^c, so c = 459 (proofs.SamplesFor)
// catches 1% loss with 99% probability (indices are drawn with
// replacement, as that bound assumes; the paper draws a subset, which only
// detects more). The paper lets the coefficients come from a subset B of
// Z_l at the cost of a term of about 1/|B| in the soundness bound: with
// |B| = 2^128 that term is 2^-128, negligible, and each coefficient is two
// limbs instead of four, which halves the prover's multiplications. Indices and
// coefficients are bound to each shard's ID, so data or tags of one shard
// cannot stand in for another's, and to the seed, so an old proof does not
// answer a new challenge.
//
// # What is private and why
//
// The key (PRF key and alphas) never leaves the owner. Both halves must be
// secret: knowing alpha, a provider could keep only sum_j alpha_j*m_ij, one
// scalar per block, instead of the block, and solve for a passing mu; knowing
// the PRF, it could subtract PRF(id, i) from s stored tags and solve the
// linear system for alpha. So only the owner (or whoever it trusts with the
// key) can verify; anyone else audits with package proofs/merkle. A prover
// learns whether each of its proofs was accepted, which the paper's
// security game grants it, and nothing else about the key.
//
// # Parameters
//
// s = 200 puts the proof at 6433 bytes, inside 8 KiB with room for framing
// (s could reach 254 before the proof passed 8 KiB), and the tags at 0.52%
// of the shard. A larger s shrinks the tags only slightly (0.41% at s = 254)
// but makes the prover read c*31*s bytes per shard: 2.8 MB at c = 459 with
// s = 200.
//
// # Arithmetic
//
// Tagging is a 200-term inner product per block, done with 64-bit limbs and
// math/bits.Mul64 into wide accumulators, with one reduction per block
// (SetUniformBytes of the 512-bit sum); proving and verifying accumulate
// the same way and reduce once per proof. Tests check every kernel against
// edwards25519.Scalar.MultiplyAdd and math/big, including all-0xff sectors
// and alpha = l-1.
package compact
