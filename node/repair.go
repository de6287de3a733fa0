package node

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/erasure"
	"github.com/dsn-project/dsn/manifest"
)

// SegmentRepair is what a repair did to one segment.
type SegmentRepair struct {
	Segment int
	// Healthy is how many of the segment's shards were healthy before.
	Healthy int
	// Rebuilt are the indices of the shards rebuilt, each on the
	// provider at the same index of Placed.
	Rebuilt []int
	Placed  []dsn.PeerID
}

// RepairThreshold is the repair threshold for a k+m code: a segment is
// repaired once its healthy shards fall to k+1, while one more loss can
// still be borne and k shards can still be fetched.
func RepairThreshold(k, m int) int { return min(k+1, k+m) }

// RepairFile rebuilds the lost shards of every segment of m whose healthy
// shards (as healthy says, from audits) have fallen to threshold or below
// (0: RepairThreshold): it fetches any k shards of the segment, verified
// as a retrieval does, decodes and re-encodes the segment, checks each
// rebuilt shard against its ID in the manifest, and places it on a new
// provider by the placement rule, apart from the segment's remaining
// holders, with tags and a deal as in a store. Rebuilt shards have the
// IDs they had, so the file's reference keeps working: holders announce
// them, and retrieval finds holders through the DHT when the manifest's
// hint is gone. It returns m with the new holders, and what it did; a
// segment that could not be repaired is reported in the error, and the
// others are still repaired.
func (c *Client) RepairFile(ctx context.Context, m *manifest.Manifest, healthy func(segment, shard int) bool, threshold int) (*manifest.Manifest, []SegmentRepair, error) {
	if threshold <= 0 {
		threshold = RepairThreshold(m.K, m.M)
	}
	code, err := erasure.New(m.K, m.M)
	if err != nil {
		return nil, nil, err
	}
	out := *m
	out.Segments = make([]manifest.Segment, len(m.Segments))
	copy(out.Segments, m.Segments)
	var done []SegmentRepair
	var errs []error
	for i, seg := range m.Segments {
		keep := make([]dsn.PeerID, len(seg.Shards))
		good := 0
		for j, sh := range seg.Shards {
			if healthy(i, j) {
				keep[j] = sh.Provider
				good++
			}
		}
		if good > threshold || good == len(seg.Shards) {
			continue
		}
		r, newSeg, err := c.repairSegment(ctx, m, code, i, keep)
		if err != nil {
			errs = append(errs, fmt.Errorf("repair segment %d (%d of %d healthy): %w", i, good, len(seg.Shards), err))
		}
		if len(r.Rebuilt) == 0 {
			continue
		}
		// Shards placed before another could not be are kept: each
		// one placed is a loss undone.
		r.Healthy = good
		out.Segments[i] = newSeg
		done = append(done, r)
	}
	return &out, done, errors.Join(errs...)
}

func (c *Client) repairSegment(ctx context.Context, m *manifest.Manifest, code *erasure.Code, i int, keep []dsn.PeerID) (SegmentRepair, manifest.Segment, error) {
	r := SegmentRepair{Segment: i}
	seg := m.Segments[i]
	segLen, shardSize := m.SegmentLen(i), m.ShardSize(i)
	shardBuf := make([]byte, int64(len(seg.Shards))*shardSize)
	data, err := c.fetchSegment(ctx, m, code, i, shardBuf, nil)
	if err != nil {
		return r, seg, err
	}
	buf := make([]byte, code.BufferSize(segLen))
	copy(buf, data)
	shards, err := code.Encode(buf, segLen)
	if err != nil {
		return r, seg, err
	}
	ids := make([]dsn.ShardID, len(seg.Shards))
	place := make([][]byte, len(seg.Shards))
	for j, sh := range seg.Shards {
		ids[j] = sh.ID
		if keep[j] != "" {
			continue
		}
		if got := dsn.SumShard(shards[j]); got != sh.ID {
			// The fetched shards verified and the code is deterministic:
			// only a manifest that does not describe its own shards
			// gets here.
			return r, seg, fmt.Errorf("shard %d rebuilt as %s, the manifest says %s: %w", j, got.Short(), sh.ID.Short(), dsn.ErrCorruptShard)
		}
		place[j] = shards[j]
		r.Rebuilt = append(r.Rebuilt, j)
	}
	var stored atomic.Int64
	newSeg, err := c.placeSegment(ctx, i, place, ids, placePolicy{keep: keep}, &stored, func() {})
	// placeSegment leaves a shard it could not place without a provider:
	// that shard keeps its old entry, and only the placed count as
	// rebuilt.
	rebuilt := r.Rebuilt[:0]
	for _, j := range r.Rebuilt {
		if newSeg.Shards[j].Provider == "" {
			newSeg.Shards[j] = seg.Shards[j]
			continue
		}
		rebuilt = append(rebuilt, j)
		r.Placed = append(r.Placed, newSeg.Shards[j].Provider)
	}
	r.Rebuilt = rebuilt
	return r, newSeg, err
}
