// Package proofs will own storage commitments and proofs of retrievability
// per shard: the publicly verifiable Merkle-sampling scheme over a shard's
// BLAKE3 tree and the compact privately verified scheme. It will be pure
// logic: no I/O, no clocks.
package proofs
