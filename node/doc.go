// Package node is where dsn meets the world: goroutines, timers, sockets
// and disks live here and nowhere else. It wires the pure packages
// (chunker, seal, erasure, manifest, market) to a dsn.Transport and to shard
// stores.
//
// A Client stores a file by running a three-stage pipeline (read and hash
// chunks for the root CID; seal chunks; erasure-code, hash and place shards),
// with a fixed number of segment buffers in flight so that memory does not
// grow with file size. It retrieves a file by fetching every shard of a
// segment in parallel, keeping the first k that verify, and checking the
// plaintext root CID before the output file is renamed into place.
//
// A Provider serves a shard store over the shard protocol (package
// node/shardproto). The sub-packages hold the transport implementations, the
// shard stores and the wire protocol.
package node
