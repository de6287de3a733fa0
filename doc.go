// Package dsn holds the few types that every part of the decentralized
// storage network shares: shard identifiers, peer identifiers, the
// Transport seam between protocol code and the network, and the small
// interfaces of a shard store.
//
// # The system in brief
//
// A file is split into chunks (package chunker), each chunk is sealed with a
// per-file key (package seal), the sealed stream is cut into segments and each
// segment is erasure-coded into k data and m parity shards (package erasure).
// Every shard is named by the BLAKE3 hash of its bytes (ShardID) and placed on
// a distinct provider. A manifest (package manifest) records where everything
// is; its content identifier plus the file key form the reference a user keeps
// (dsn:<manifest CID>#<key>). Retrieval fetches any k verified shards of each
// segment, decodes, opens the chunks and checks the plaintext root CID before
// the output file appears.
//
// Package node is the only place with goroutines, sockets and disks: it wires
// the pure packages to a Transport and to shard stores. Package cmd/dsn is the
// command line.
//
// Shard bytes are checked in one place: every path that takes shard bytes in
// reads them through VerifyReader, which fails instead of reporting the end of
// the data when the bytes do not hash to the expected ShardID.
package dsn
