package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"

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
// (0: RepairThreshold): it fetches k shards of the segment, healthy ones
// first, verified as a retrieval does, decodes and re-encodes the segment,
// checks each rebuilt shard against its ID in the manifest, and places it
// on a new provider by the placement rule, apart from the segment's
// remaining holders, with tags and a deal as in a store. Rebuilt shards
// have the IDs they had, so holders announce them and retrieval can find
// them through the DHT; publishing the returned manifest as a new version
// (PublishVersion, or RepairAndPublish for both steps) also moves the
// file's reference to the new hints. It needs no file key: shards are
// sealed bytes. It returns m with the new holders, and what it did; a
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
	h := newHedge()
	// One segment is repaired at a time, in the same buffer.
	var bufs scratch
	defer bufs.release()
	var buf []byte
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
		buf = bufs.fit(buf, int(int64(len(seg.Shards))*m.ShardSize(i)))
		r, newSeg, err := c.repairSegment(ctx, m, code, i, keep, h, buf)
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

// repairSegment rebuilds the shards of segment i that keep leaves without
// a provider. It reads the first k healthy shards, and the others (the
// unhealthy ones' holders may still answer) only when one of those fails
// or is slow, as a retrieval does with parity (see hedge): a repair moves
// k shards, not every one the segment has left. It works in buf, one slot
// per shard: the fetched shards are decoded in place (see segBufs) and the
// segment is coded again in place, its parity overwriting the slots the
// fetched parity came in.
func (c *Client) repairSegment(ctx context.Context, m *manifest.Manifest, code *erasure.Code, i int, keep []dsn.PeerID, h *hedge, buf []byte) (SegmentRepair, manifest.Segment, error) {
	r := SegmentRepair{Segment: i}
	seg := m.Segments[i]
	segLen := m.SegmentLen(i)
	primary := make([]int, 0, m.K)
	for j, p := range keep {
		if p != "" && len(primary) < m.K {
			primary = append(primary, j)
		}
	}
	if _, err := c.fetchSegment(ctx, m, code, i, buf, h, primary); err != nil {
		return r, seg, err
	}
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
			// Nothing is placed: none of the segment's shards counts as
			// rebuilt.
			return SegmentRepair{Segment: i}, seg, fmt.Errorf("shard %d rebuilt as %s, the manifest says %s: %w", j, got.Short(), sh.ID.Short(), dsn.ErrCorruptShard)
		}
		place[j] = shards[j]
		r.Rebuilt = append(r.Rebuilt, j)
	}
	// The holders of the shards being replaced take none of them back.
	avoid := make(map[dsn.PeerID]bool)
	for j, sh := range seg.Shards {
		if keep[j] == "" && sh.Provider != "" {
			avoid[sh.Provider] = true
		}
	}
	var stored atomic.Int64
	newSeg, err := c.placeSegment(ctx, i, place, ids, placePolicy{keep: keep, avoid: avoid}, &stored, func() {})
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

// RecordStore keeps small signed records under keys, the way a DHT keeps
// values: the libp2p host's kad-dht with a record validator, or the
// in-process network's map in tests. Readers never trust it: every record
// is checked where it is used.
type RecordStore interface {
	// PutRecord stores value under key.
	PutRecord(ctx context.Context, key string, value []byte) error
	// GetRecords returns the values found under key, best first as far
	// as the store can tell; none, with a nil error, when there are none.
	GetRecords(ctx context.Context, key string) ([][]byte, error)
}

func implements[I any](v any) bool {
	_, ok := v.(I)
	return ok && v != nil
}

var (
	// ErrNoRecordStore is returned by PublishVersion and RepublishVersion
	// when the client has no RecordStore to publish to.
	ErrNoRecordStore = errors.New("no record store to publish manifest versions to")
	// ErrWrongCap is returned by PublishVersion when the capability's
	// updater key is not the one the manifest names.
	ErrWrongCap = errors.New("repair capability does not match the file's updater key")
)

// PublishVersion makes m the newest version of the file rc names: it
// stores m's envelope (sealed with rc's key for a private file) on
// providers as a store does, then signs and publishes a version record
// with a sequence number above the newest it finds. The sequence number is
// the time in milliseconds, or one more than the newest record's, so that
// a writer that could not see the newest record still most likely
// supersedes it; it fails with manifest.ErrVersionAhead, saying how long
// to wait, when the newest record is at the bound of how far a sequence
// number may run ahead of the clock. The caller is trusted to pass a
// manifest with the original's content: readers check that, and ignore a
// version that fails.
func (c *Client) PublishVersion(ctx context.Context, rc manifest.RepairCap, m *manifest.Manifest) (*manifest.VersionRecord, error) {
	if c.records == nil {
		return nil, fmt.Errorf("publish version of %s: %w", rc.Manifest, ErrNoRecordStore)
	}
	updater := rc.Key.UpdaterKey()
	if !bytes.Equal(updater.Public().(ed25519.PublicKey), m.Updater[:]) {
		return nil, fmt.Errorf("publish version of %s: %w", rc.Manifest, ErrWrongCap)
	}
	var newest uint64
	if cur := c.latestVersion(ctx, rc.Manifest, m.Updater, nil); cur != nil {
		newest = cur.Seq
	}
	seq, err := manifest.NextSeq(newest, time.Now())
	if err != nil {
		return nil, fmt.Errorf("publish version of %s: %w", rc.Manifest, err)
	}
	var blob []byte
	if m.Public() {
		blob, err = manifest.Public(m)
	} else {
		blob, err = manifest.Seal(m, rc.Key, c.opts.Rand)
	}
	if err != nil {
		return nil, fmt.Errorf("publish version of %s: %w", rc.Manifest, err)
	}
	next := manifest.CID(blob)
	if err := c.putManifest(ctx, manifest.Reference{Manifest: next}, blob, m.M); err != nil {
		return nil, fmt.Errorf("publish version of %s: %w", rc.Manifest, err)
	}
	rec, err := manifest.SignVersion(rc.Manifest, next, seq, updater)
	if err != nil {
		return nil, fmt.Errorf("publish version of %s: %w", rc.Manifest, err)
	}
	b, err := rec.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("publish version of %s: %w", rc.Manifest, err)
	}
	if err := c.records.PutRecord(ctx, rec.Key(), b); err != nil {
		return nil, fmt.Errorf("publish version %d of %s: %w", seq, rc.Manifest, err)
	}
	c.log.Info("published manifest version", "manifest", rc.Manifest, "version", seq, "next", next)
	return rec, nil
}

// RepublishVersion stores the newest version record of the file whose
// original manifest is original and whose updater key is updater again,
// so that it outlives the DHT's expiry of records (kad-dht drops a value
// 36 hours after it was put). The newest is chosen among the records the
// store has and last, the record the caller kept (nil: none); anyone may
// republish, since records carry their own signature. It returns the
// record it put (nil when there is none), for the caller to keep.
func (c *Client) RepublishVersion(ctx context.Context, original cid.Cid, updater [ed25519.PublicKeySize]byte, last []byte) ([]byte, error) {
	if c.records == nil {
		return nil, fmt.Errorf("republish version of %s: %w", original, ErrNoRecordStore)
	}
	var have [][]byte
	if last != nil {
		have = [][]byte{last}
	}
	rec := c.latestVersion(ctx, original, updater, have)
	if rec == nil {
		return nil, nil
	}
	b, err := rec.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("republish version of %s: %w", original, err)
	}
	if err := c.records.PutRecord(ctx, rec.Key(), b); err != nil {
		return b, fmt.Errorf("republish version %d of %s: %w", rec.Seq, original, err)
	}
	return b, nil
}

// RepairAndPublish repairs m, the newest manifest of the file rc names, as
// RepairFile does, and if any shard was re-placed publishes the result as a
// new version (PublishVersion), so that the file's reference follows it.
// The version record is nil when nothing was repaired or publishing failed
// (the error says why); a repair error leaves what was repaired published.
func (c *Client) RepairAndPublish(ctx context.Context, rc manifest.RepairCap, m *manifest.Manifest, healthy func(segment, shard int) bool, threshold int) (*manifest.Manifest, []SegmentRepair, *manifest.VersionRecord, error) {
	out, done, rerr := c.RepairFile(ctx, m, healthy, threshold)
	if len(done) == 0 {
		return out, done, nil, rerr
	}
	rec, perr := c.PublishVersion(ctx, rc, out)
	return out, done, rec, errors.Join(rerr, perr)
}
