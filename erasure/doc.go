// Package erasure cuts a stream into fixed-size segments and codes each
// segment into k data and m parity shards with a systematic Reed-Solomon
// code (github.com/klauspost/reedsolomon), so that any k of the k+m shards
// rebuild the segment. It does no I/O.
package erasure
