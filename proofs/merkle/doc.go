// Package merkle owns the publicly verifiable proof of retrievability for
// one shard: Merkle sampling over the shard's own BLAKE3 tree.
//
// # Commitment
//
// A shard's ID is its BLAKE3-256 hash, and a BLAKE3 hash is the root of a
// binary tree over 1024-byte chunks (the last may be short): chunk i is
// compressed with chunk counter i, parents join two chaining values, the
// left subtree always holds the largest power of two of chunks below the
// node's count, and the top node alone carries the ROOT flag. So the ID
// already commits to every chunk, and anyone who knows the ID can check a
// chunk against it given the sibling chaining values along its path. No
// separate commitment is stored or trusted. The tree code used to verify
// (compress.go) is written from the BLAKE3 specification and checked
// against the official test vectors and zeebo/blake3.
//
// # Challenge and proof
//
// A challenge is a seed and a sample count c. The seed comes from
// proofs.MixSeed, which mixes the auditor's fresh random nonce with the
// epoch beacon, so the prover cannot know it before the challenge.
// proofs.Sample(seed, shardID, n, c) selects c chunk numbers out of the
// shard's n chunks; the proof holds each distinct selected chunk once, in
// increasing order, with its bytes and its sibling chaining values from
// the leaf up. A proof also records the challenge it answers (shard ID,
// size, seed, c), so a stored proof is a complete, re-checkable transcript.
//
// Verify recomputes the selected set from the seed, requires the proof's
// leaves to be exactly that set, and hashes every leaf up its path to the
// ID, ROOT flag on the top node. It needs nothing from the prover but the
// proof.
//
// # Why an earlier answer cannot be replayed
//
// A proof is bound to its seed twice. It names the seed, and Verify
// refuses a proof naming another one (ErrWrongChallenge). Renaming it does
// not help: the leaves must be exactly the chunks the new seed selects
// (ErrWrongIndices), and a fresh uniform seed selects the same set as an
// old one only with negligible probability unless the sample covers the
// whole shard, in which case the old proof contains every byte of the
// shard and keeping it is keeping the shard. A hash of the transcript
// carried in the proof would add nothing: it is computed from public
// values, so a cheater computes it as easily as an honest prover.
// Freshness comes from the seed being unpredictable until the challenge
// arrives; a provider that precomputed answers for k guessed seeds wins
// only if the auditor's nonce is among its guesses.
//
// # Security
//
// Finding a different chunk, or a sibling, that hashes to the same root is
// a BLAKE3 collision. So each sampled chunk the provider does not hold
// makes the proof fail, and a provider missing a fraction f of the chunks
// passes a challenge of c independent samples with probability (1-f)^c.
// proofs.SamplesFor(0.01, 0.99) = 459 catches 1% loss with probability
// 0.99; repeated epochs drive an escape's chance down geometrically. Loss
// below 1% is left to erasure coding: any m of k+m shards may go.
//
// # Outboard
//
// To answer without rehashing the shard, a provider keeps an Outboard
// beside it, built once as the shard streams in (OutboardWriter is an
// io.Writer): the chaining value of every aligned 16-chunk subtree (a
// 16 KiB "group"), 32 bytes per 16 KiB, 1/512 of the shard (about 0.2%),
// plus the root. Prove reads and hashes only the challenged groups (16 KiB
// each, at most c of them), takes the siblings above a group from the
// outboard, and checks each group it reads against the outboard and each
// path against the ID, returning ErrCorrupt rather than a proof that would
// fail. Verify never sees the outboard.
//
// The writer hashes groups with lukechampine.com/blake3/guts (already in
// the module graph), because a subtree's chaining value needs compression
// with a chosen chunk counter and without the ROOT flag, which
// zeebo/blake3's API never offers; guts runs AVX-512/AVX2 code where the
// CPU has it. This package's own compression is plain Go, used by Verify
// and Prove, which touch only c leaves.
//
// # Formats
//
// Proofs and outboards have canonical binary encodings with a version
// byte; every count and size is bounded before anything is allocated,
// varints must be minimal, and trailing bytes are refused. See
// Proof.MarshalBinary and Outboard.MarshalBinary.
//
// This package does not choose c, schedule challenges, move proofs over
// the network, store outboards, or record results: the node and ledger do.
// It is pure: no clocks, no goroutines; its only I/O is reading challenged
// groups through the io.ReaderAt given to Prove.
package merkle
