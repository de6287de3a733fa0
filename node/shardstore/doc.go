// Package shardstore is a provider's shard storage on disk: one file per
// shard under shards/<2 hex>/<64 hex>, indexed in pebble together with an
// exact usage record.
//
// A shard is acknowledged (ReceiveShard returns nil) only after its bytes
// passed dsn.VerifyReader (or, when a sidecar builder already hashes every
// byte, the same check with that builder's hash: HashingBuilder), were written to a temp file and fsync-ed, the
// file was renamed into place and its directory fsync-ed, and the index
// entry and the new usage record were committed in one synced pebble batch.
// Open repairs whatever a crash left behind, so an acknowledged shard is
// never lost and space never leaks; if the index is gone, Open rebuilds it
// from the shard files that still hash to their names.
//
// Capacity is spent in charges, not bytes: a shard costs its size rounded
// up to a file-system block, a fixed overhead for its inode and entries,
// and room for its sidecars (Charge), so that many tiny shards cannot fill
// the disk while the accounting says there is room. All file access goes through a vfs.FS,
// so tests crash the store and inject disk errors without real disks.
//
// A receive hashes on the caller's goroutine and writes on a second one
// (two 1 MiB buffers), so hashing and disk work overlap. On a real disk the
// shard is written with O_DIRECT, from the buffers to the device without a
// copy into the page cache: a buffered write of a new file cost the kernel
// several times the CPU (copy, allocation, writeback), which a provider
// receiving at hundreds of MB/s does not have to spare (docs/benchmarks.md).
// Where the file system refuses O_DIRECT, or Options.BufferedWrites asks,
// writes go through the page cache
// and the kernel is asked to start writeback every 4 MiB (ranged writeback,
// ext4), so the final fsync has little left to do.
//
// The package owns the on-disk layout, the index encoding and the
// capacity accounting. It does not compute hashes itself (dsn.VerifyReader
// or a HashingBuilder does), does not re-check stored bytes on read (callers verify at their
// own boundary), and knows nothing of deals, peers or the network.
//
// Subpackage memstore is the same store in memory; storetest is the
// conformance suite every dsn.ShardStore runs.
package shardstore
