// Package erasure cuts a stream into fixed-size segments and codes each
// segment into k data and m parity shards with a systematic Reed-Solomon
// code (github.com/klauspost/reedsolomon), so that any k of the k+m shards
// rebuild the segment. It does no I/O.
//
// # What it owns
//
// The segment geometry (ShardSize, Segments, SegmentLen, DefaultSegmentChunks)
// and the Code type, a thin wrapper over one cached reedsolomon.Encoder:
// Encode turns a segment buffer into k+m shards in place, Decode turns any k
// of them back into the segment. It does not hash, name, place, fetch or
// verify shards (callers check each shard against its dsn.ShardID before
// Decode sees it), and it starts no goroutines of its own.
//
// # Why systematic
//
// The code is systematic: the first k shards are the segment's own bytes,
// cut into k equal pieces and zero-padded to ShardSize; only the m parity
// shards are computed. So a reader that gets all k data shards, the common
// case when providers are healthy, rebuilds the segment with k memory copies
// and no Galois-field arithmetic, and never needs a parity shard at all.
// Decode takes that path whenever the data shards are present, which makes
// retrieval run at memory speed rather than at Reed-Solomon speed, and lets
// a client fetch the k data shards first and ask for parity only for the
// ones that fail or are slow. Reconstruction work grows with the number of
// missing data shards, not with k+m.
//
// # Format stability
//
// The parity bytes depend on the coding matrix, which the manifest format
// implicitly fixes: klauspost/reedsolomon's default systematic Vandermonde
// matrix over GF(2^8), for k+m <= 256. No Option changes the matrix, and
// TestGoldenParity pins the parity of a few codes so that a library upgrade
// that changed it would fail loudly instead of writing incompatible shards.
package erasure
