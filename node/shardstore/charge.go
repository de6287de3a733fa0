package shardstore

// What a shard costs against the store's capacity.
//
// Counting only the shards' own bytes let a peer fill a disk with tiny
// shards while the store believed it had room: every shard file takes at
// least one file-system block, plus an inode, a directory entry and an
// index entry, and its sidecars live in the index beside it. A 16-byte
// shard cost 16 bytes of capacity and more than 4 KiB of disk. So each
// shard is charged what it takes on disk, bounded from above:
//
//	Charge(size) = roundup(size, BlockSize) + ShardOverhead + SidecarAllowance(size)
//
// and the sidecars of a shard are free up to SidecarAllowance(size), which
// covers a Merkle outboard and one owner's compact tags of a shard that
// size. Sidecar bytes beyond the allowance (the tags of a second owner,
// say) are charged on top when they are stored, and refused with
// dsn.ErrNoSpace when they do not fit. Usage.Used is the sum of these
// charges, so Used and Capacity-Used stay the figures the store enforces.
//
// The charge depends only on a shard's size and its sidecars, both in the
// index, so Open recomputes usage from the index alone.

// BlockSize is the file-system block a shard file's size is rounded up to:
// 4 KiB, the block of ext4, XFS and APFS by default. A file system with
// larger blocks (or none: tail packing) is charged too little or too much
// per file by at most the difference.
const BlockSize = 4 << 10

// ShardOverhead is charged once per shard for what holding it costs beside
// its data blocks: the file's inode (256 bytes on ext4), its directory
// entry, and its pebble index entry (key, value and the LSM's amplification
// of them). 4 KiB is an upper bound on their sum, rounded to a block.
const ShardOverhead = 4 << 10

// sidecarEntryOverhead is charged per sidecar beside its name and value:
// the key's prefix and shard ID (33 bytes) and pebble's per-entry cost.
const sidecarEntryOverhead = 64

// SidecarAllowance is the sidecar bytes a shard of size bytes may hold
// without further charge: 1/128 of its size plus 1 KiB. A Merkle outboard
// holds 32 bytes per 16 KiB group (proofs/merkle, 1/512) and compact tags
// 32 bytes per 6200-byte block (proofs/compact, about 1/194); together
// with their rounding, headers (under 110 bytes) and two keys of at most
// MaxSidecarName bytes, they stay below this bound at every size.
func SidecarAllowance(size int64) int64 { return size/128 + 1<<10 }

// Charge returns the capacity a shard of size bytes takes, its sidecars
// within SidecarAllowance included.
func Charge(size int64) int64 {
	return (size+BlockSize-1)/BlockSize*BlockSize + ShardOverhead + SidecarAllowance(size)
}

// Charge is the package's Charge, as a method so that the conformance
// suite (storetest) can find what the store charges per shard.
func (s *Store) Charge(size int64) int64 { return Charge(size) }

// sidecarCost is what one stored sidecar counts toward its shard's
// sidecar bytes.
func sidecarCost(name string, valueLen int) int64 {
	return sidecarEntryOverhead + int64(len(name)) + int64(valueLen)
}

// shardCharge is a shard's whole contribution to usage: Charge(size), plus
// whatever its sidecars take beyond the allowance.
func shardCharge(size, sidecarBytes int64) int64 {
	return Charge(size) + max(0, sidecarBytes-SidecarAllowance(size))
}
