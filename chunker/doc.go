// Package chunker cuts a plaintext file into chunks and computes the file's
// root CID, the content ID that names the plaintext end to end.
//
// The root CID is the one IPFS tooling computes for the same bytes with
// `ipfs add --only-hash --cid-version=1 --raw-leaves --hash=blake3
// --chunker=<spec>`: boxo's splitters cut the stream, and boxo's UnixFS
// importer builds a balanced DAG over raw leaves with 174 links per interior
// node, every block named by a CIDv1 with a BLAKE3-256 multihash. So a
// retrieved file can be checked against its root CID, and the same ID can be
// looked up or checked with any IPFS implementation.
//
// Import makes one pass over the stream and hands each chunk to a callback
// (the sealing layer encrypts it from there), holding at most two chunks in
// memory whatever the file size. Blocks are hashed and then dropped: the
// package stores nothing.
//
// Chunker specs are "size-N" (fixed N-byte chunks, 1 MiB by default) and
// "buzhash" (boxo's content-defined chunks). Fixed-size chunking uses a
// splitter of this package that reuses its buffers and yields exactly the
// chunks of boxo's; buzhash uses boxo's splitter as is.
//
// Builder is the cid.Builder behind every CID made here; it hashes with
// github.com/zeebo/blake3, the same code that names shards, and other
// packages use it to name their blocks (a manifest, say) the same way.
//
// This package does not encrypt, store, fetch, or read back DAGs, and knows
// nothing of segments, shards or providers.
package chunker
