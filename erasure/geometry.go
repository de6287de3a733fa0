package erasure

// ShardAlign is the multiple that shard sizes are rounded up to. Aligned
// shards let the Reed-Solomon kernels run on whole vectors; the padding is
// at most ShardAlign-1 bytes per shard.
const ShardAlign = 64

// ShardSize returns the size of each of the k+m shards of a segment that
// holds segLen bytes: segLen split over k data shards, rounded up to
// ShardAlign. The data shards hold the segment followed by zero padding.
func ShardSize(segLen int64, k int) int64 {
	if segLen <= 0 || k <= 0 {
		return 0
	}
	per := (segLen + int64(k) - 1) / int64(k)
	return (per + ShardAlign - 1) / ShardAlign * ShardAlign
}

// Segments returns how many segments of segmentSize bytes a stream of size
// bytes is cut into; the last one may be shorter. An empty stream has none.
func Segments(size, segmentSize int64) int64 {
	if size <= 0 || segmentSize <= 0 {
		return 0
	}
	return (size + segmentSize - 1) / segmentSize
}

// SegmentLen returns the length of segment i of a stream of size bytes cut
// into segments of segmentSize bytes, or 0 when i is out of range.
func SegmentLen(size, segmentSize, i int64) int64 {
	n := Segments(size, segmentSize)
	if i < 0 || i >= n {
		return 0
	}
	if i < n-1 {
		return segmentSize
	}
	return size - (n-1)*segmentSize
}
