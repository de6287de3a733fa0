// Package proofs owns what both proof-of-retrievability schemes share: the
// challenge seed, the way a seed selects which parts of a shard are
// challenged, and the arithmetic that says how many samples a challenge needs.
//
// The schemes themselves live in subpackages:
//
//   - proofs/merkle: publicly verifiable Merkle sampling over a shard's BLAKE3
//     tree, whose root is the shard's ID, so anyone who knows the ID can audit;
//   - proofs/compact: Shacham–Waters proofs with private verification over the
//     edwards25519 scalar field, a few kilobytes whatever is challenged.
//
// A seed must be unpredictable to the prover until the challenge arrives, or a
// provider could keep only the sampled parts. MixSeed binds the auditor's fresh
// randomness to an epoch beacon, so neither an auditor that reuses randomness
// nor a provider that knows the beacon early can steer the sample.
//
// Everything here is pure: no I/O, no clocks.
package proofs
