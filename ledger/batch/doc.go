// Package batch verifies many Ed25519 signatures at once and gives, for
// every signature, exactly the answer crypto/ed25519.Verify gives.
//
// It owns the batch equation, the checks that keep it in agreement with
// crypto/ed25519, and the fallback to one-by-one verification. It does not
// own keys, signing, message encoding or what a valid signature means to the
// ledger; callers (ledger verification, peers checking each other's logs)
// build the Items.
//
// # Why the answers match crypto/ed25519.Verify
//
// crypto/ed25519 (Go 1.26) accepts a signature (R, s) of M under A when:
// the signature is 64 bytes; s < l (canonical); A decodes with
// edwards25519.Point.SetBytes (which accepts non-canonical y); and the
// canonical encoding of [s]B - [k]A equals the 32 bytes of R, with
// k = SHA-512(R || A || M) mod l. Because the encoding it compares against
// is canonical, the check is "R decodes, is canonically encoded, and
// D = [s]B - R - [k]A is the identity". It is cofactorless: a D that is a
// nonzero small-order point is rejected.
//
// Verify first applies the same preconditions per item (length, s < l, A
// decodes, R decodes and is canonical: y < p, and not x = 0 with the sign
// bit set). An item that fails one is rejected, as crypto/ed25519 would.
// Every other item goes into the batch, which accepts a set of items only if
// both of these hold, each with fresh randomness from crypto/rand:
//
//  1. The cofactored random linear combination
//     [8]([Σ z_i s_i]B - Σ z_i R_i - Σ_A (Σ_{i: A_i = A} z_i k_i) A) = 0,
//     with independent uniform 128-bit z_i, computed with
//     edwards25519's VarTimeMultiScalarMult and one term per distinct key.
//     It equals [8]Σ z_i D_i. The [8] maps each D_i onto the prime-order
//     subgroup, where it is zero only if D_i is a small-order point, so if
//     some D_i has a prime-order part the sum vanishes for at most one value
//     of z_i mod l: probability at most 2^-128. The [8] also makes the
//     reduction of per-key scalar sums mod l harmless.
//
//  2. The torsion check. The equation above cannot see small-order parts,
//     which is exactly where it differs from crypto/ed25519 (for example a
//     valid signature with a point of order 2 added to R passes the
//     cofactored equation but is rejected by crypto/ed25519). The
//     small-order part of D_i is minus that of Y_i = R_i + [k_i mod 8]A_i
//     ([s]B has none; k_i is the reduced scalar crypto/ed25519 uses, and
//     small-order parts have order dividing 8). For 128 independent random
//     subsets S, the package checks [l](Σ_{i∈S} Y_i) = 0, which holds
//     exactly when the small-order parts in S sum to zero. If some Y_i has a
//     nonzero small-order part, each subset misses it with probability at
//     most 1/2 (flipping i's membership changes the sum), so all 128 miss
//     with probability at most 2^-128. There is no cheaper exact test: the
//     small-order group has exponent 8, so one group equation carries at
//     most 3 bits about n small-order parts, and a per-point test costs a
//     full scalar multiplication by l, as much as verifying the signature.
//
// If both hold, every D_i is the identity except with probability at most
// 2^-127 over randomness the signer never sees, so every item is valid under
// crypto/ed25519. If all items are valid, both checks hold for any
// randomness, so a valid batch is never rejected. When the batch fails it is
// split in two and each half is checked again, down to batches smaller than
// the minimum size, which are verified one by one with crypto/ed25519.Verify
// itself. Small inputs take that path directly, because the 128 scalar
// multiplications by l of the torsion check cost more than they save.
//
// One deliberate difference: crypto/ed25519.Verify panics on a public key
// that is not 32 bytes; here that item is simply rejected.
package batch
