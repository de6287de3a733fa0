// Package manifest defines the record that makes a stored file retrievable,
// its binary encoding, the envelope it is stored in, and the reference a user
// keeps.
//
// A Manifest says how the file was cut and sealed (chunk size, cipher, file
// id), how the sealed stream was cut into segments and erasure-coded (segment
// size, k, m), where every shard of every segment lives (shard id and
// provider), and the plaintext root CID that a retrieval checks at the end.
//
// The manifest is encoded canonically (MarshalBinary: one byte string per
// manifest), wrapped in an envelope that is either public or sealed with the
// file key (Seal, Public, Open), and stored on providers like a shard: the
// envelope's BLAKE3 hash is both its ShardID (BlobID) and the digest inside
// its CID. The Reference dsn:<CID>#<key> names the envelope and carries the
// file key; the envelope is sealed with the ManifestKey derived from it.
//
// A file's manifest can be replaced after a repair without changing its
// reference. The RepairCap dsn-repair:<CID>#<ManifestKey> opens the manifest
// and derives the Ed25519 key the manifest names as its Updater, but not the
// file key. A VersionRecord, signed by the updater, says which manifest
// envelope is now the file's; VersionKey is where it is kept in the DHT,
// VersionValidator is what DHT servers check it with, and SameContent is
// what a reader checks before following it: a version may move shards, never
// change them. docs/formats.md describes every byte.
//
// The package is pure: it fetches nothing, and it does not seal chunks
// (package seal), cut segments or compute shard sizes (package erasure), or
// choose providers (package market). It checks that a manifest is internally
// consistent, not that its shards exist.
package manifest
