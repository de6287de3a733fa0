// Package seal encrypts a file's chunks and its manifest on the client, before
// anything leaves the machine.
//
// Every private file has its own random Key, which is the read capability: it
// travels only inside the reference (dsn:<manifest CID>#<key>). From it two
// independent keys are derived with BLAKE3's key derivation mode: the chunk
// subkeys, and the ManifestKey, which seals the manifest and from which the
// Ed25519 key that signs new manifest versions is derived in turn. The
// ManifestKey is the repair capability: it cannot be turned back into the
// Key, so its holder can rebuild and re-place shards and publish a new
// manifest version, but not read the file. A public file has no Key and
// gets a random ManifestKey, which only signs.
//
// Chunks are sealed with an AEAD (AES-256-GCM or XChaCha20-Poly1305). The
// nonce is the chunk index, so nothing is stored per chunk but the 16-byte
// tag (Overhead). The chunk subkey also depends on the file's random FileID,
// and the associated data carries a domain string, the FileID and the index,
// so a chunk opens only at its own position in its own file: reordered,
// spliced or corrupted chunks fail with ErrAuth. Because nonces are derived
// from indexes, a (Key, FileID) pair must seal each index at most once: every
// store of a file, including a new version of it, takes a fresh FileID.
//
// The manifest is sealed with XChaCha20-Poly1305 under a random 24-byte nonce
// kept in front of the ciphertext, because a manifest is re-sealed under the
// same key for each new version of a file and random 192-bit nonces do not
// repeat.
//
// The byte-level formats are in docs/formats.md.
//
// The package does not cut files into chunks (package chunker), decide chunk
// or segment sizes, or know the manifest's layout (package manifest): it only
// turns bytes into sealed bytes and back.
package seal
