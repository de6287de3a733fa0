package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/market"
	"github.com/dsn-project/dsn/node"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/node/owned"
	"github.com/dsn-project/dsn/proofs/compact"
)

// providersInFlight bounds the providers one epoch's audit challenges at
// once.
const providersInFlight = 4

// EpochOf numbers epochs of length d from the Unix epoch, so every node
// agrees which epoch an instant falls in.
func EpochOf(t time.Time, d time.Duration) uint64 { return uint64(t.UnixNano() / int64(d)) }

// Beacon is the epoch beacon mixed into every seed of the epoch's
// challenges. It is public and known in advance; what makes a seed
// unpredictable to the provider is the auditor's fresh randomness mixed
// with it (proofs.MixSeed). The beacon ties a seed, and so a proof, to
// its epoch, which the ledger's credits will name.
func Beacon(epoch uint64, d time.Duration) []byte {
	return fmt.Appendf(nil, "dsn epoch %d of %s", epoch, d)
}

// nextEpoch returns the epoch to audit next after the one audited last
// (0: none), and when it starts: the next epoch of the Unix-time grid
// EpochOf numbers (time.Time.Truncate would round from the year 1, off
// that grid for periods such as 7 s or 72 h), and never one audited
// already, even if the clock was set back.
func nextEpoch(now time.Time, period time.Duration, last uint64) (uint64, time.Time) {
	epoch := max(EpochOf(now, period)+1, last+1)
	return epoch, time.Unix(0, int64(epoch)*int64(period))
}

// auditLoop audits every file this node stored once per epoch, at the
// start of each epoch, until ctx ends.
func (d *Daemon) auditLoop(ctx context.Context) {
	period := d.repo.Config.EpochOrDefault()
	var last uint64 // the epoch audited last; 0: none yet
	for {
		now := time.Now()
		epoch, next := nextEpoch(now, period, last)
		if !sleep(ctx, next.Sub(now)) {
			return
		}
		last = epoch
		start := time.Now()
		sum, err := d.AuditEpoch(ctx, epoch)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("audit epoch", "epoch", epoch, "err", err)
			}
			continue
		}
		if sum.Shards > 0 {
			d.log.Info("audited", "epoch", epoch, "files", sum.Files, "shards", sum.Shards, "passed", sum.Passed,
				"failed", sum.Failed, "missed", sum.Missed, "took", time.Since(start).Round(time.Millisecond))
		}
		if sum.Failed+sum.Missed > 0 {
			d.RepairFiles(ctx)
		}
		if epoch%republishEpochs(period) == 0 {
			d.RepublishVersions(ctx)
		}
	}
}

// EpochSummary counts one epoch's audits.
type EpochSummary struct {
	Files, Shards, Passed, Failed, Missed int
}

// target is one shard of one of this node's files, as an epoch audits it.
type target struct {
	file       cid.Cid
	seg, shard int
	id         dsn.ShardID
	size       int64
	provider   dsn.PeerID
}

// AuditEpoch challenges every provider holding shards of this node's
// files, records each shard's outcome with the file, and logs every shard
// that did not pass. With the owner's proof key each provider answers one
// aggregated compact proof for all the shards it holds; when that fails,
// its shards are challenged one by one to find the ones it lost. Without
// the key (tests) every shard gets a Merkle challenge.
func (d *Daemon) AuditEpoch(ctx context.Context, epoch uint64) (EpochSummary, error) {
	var sum EpochSummary
	files, err := d.files.Files(func(k []byte, err error) {
		d.log.Error("owner record unreadable; its file is not audited", "key", fmt.Sprintf("%x", k), "err", err)
	})
	if err != nil {
		return sum, err
	}
	sum.Files = len(files)
	byProvider := map[dsn.PeerID][]target{}
	for _, f := range files {
		for i, seg := range f.Manifest.Segments {
			for j, sh := range seg.Shards {
				byProvider[sh.Provider] = append(byProvider[sh.Provider], target{
					file: f.Reference.Manifest, seg: i, shard: j, id: sh.ID, size: f.Manifest.ShardSize(i), provider: sh.Provider,
				})
			}
		}
	}
	period := d.repo.Config.EpochOrDefault()
	beacon := Beacon(epoch, period)
	var mu sync.Mutex
	record := func(t target, scheme string, r auditproto.Result) {
		if r.Outcome == auditproto.Aborted {
			// The auditor's own failure (shutting down, say) says
			// nothing about the provider.
			if ctx.Err() == nil {
				d.log.Warn("audit not run", "provider", d.opts.PeerString(t.provider), "file", t.file, "err", r.Reason)
			}
			return
		}
		a := owned.Audit{Epoch: epoch, Time: time.Now(), Scheme: scheme, Provider: t.provider,
			Outcome: outcome(r.Outcome), Latency: r.Latency, ProofBytes: r.ProofBytes}
		if r.Reason != nil {
			a.Reason = r.Reason.Error()
		}
		if err := d.files.RecordAudit(t.file, t.seg, t.shard, a); err != nil {
			d.log.Error("record audit", "file", t.file, "err", err)
		}
		if d.asks != nil {
			d.asks.audited(t.provider, marketOutcome(a.Outcome))
		}
		if a.Outcome != owned.Pass {
			d.log.Warn("audit: provider did not prove a shard", "epoch", epoch, "outcome", a.Outcome,
				"provider", d.opts.PeerString(t.provider), "file", t.file, "segment", t.seg, "shard", t.shard,
				"scheme", scheme, "reason", a.Reason)
		}
		mu.Lock()
		defer mu.Unlock()
		sum.Shards++
		switch a.Outcome {
		case owned.Pass:
			sum.Passed++
		case owned.Fail:
			sum.Failed++
		default:
			sum.Missed++
		}
	}
	sem := make(chan struct{}, providersInFlight)
	var wg sync.WaitGroup
	for p, ts := range byProvider {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return sum, context.Cause(ctx)
		}
		wg.Go(func() {
			defer func() { <-sem }()
			var settle []node.ShardAudit
			// A provider that stops answering must not hold up the
			// epoch's audit, which waits for every provider: what it
			// leaves unanswered within its budget counts as missed.
			pctx, cancel := context.WithTimeout(ctx, auditBudget(period))
			defer cancel()
			d.auditProvider(pctx, p, ts, beacon, func(t target, scheme string, r auditproto.Result) {
				if r.Outcome == auditproto.Aborted && ctx.Err() == nil && pctx.Err() != nil {
					r = auditproto.Result{Outcome: auditproto.Missed, Reason: errAuditBudget}
				}
				record(t, scheme, r)
				settle = append(settle, node.ShardAudit{Segment: t.seg, Shard: t.shard, ID: t.id, Size: t.size, Provider: p, Scheme: scheme, Result: r})
			})
			// The epoch's credits and penalties, for shards under deals.
			if n, err := d.client.Settle(ctx, epoch, uint64(period/time.Second), settle); err != nil && ctx.Err() == nil {
				d.log.Warn("ledger: settle audits", "provider", d.opts.PeerString(p), "recorded", n, "err", err)
			}
		})
	}
	wg.Wait()
	return sum, ctx.Err()
}

// auditBudget is how long one provider's audits may take in an epoch of
// period: half of it, and at least 30 s. A variable so that tests can
// reach it.
var auditBudget = func(period time.Duration) time.Duration { return max(period/2, 30*time.Second) }

// errAuditBudget is the reason of the audits a provider left unanswered
// when its budget for the epoch ran out.
var errAuditBudget = errors.New("the provider's audit budget for the epoch ran out")

// auditsInFlight bounds the single-shard challenges run at once with one
// provider; the client's per-peer limit is the same.
const auditsInFlight = 4

// auditEach runs audit for each of n shards, auditsInFlight at a time, and
// records the results one at a time. One after another, a provider that
// had stopped answering held the epoch's audit for n times a challenge's
// deadline: hours for a provider of a thousand shards.
func auditEach(ctx context.Context, n int, audit func(ctx context.Context, i int) auditproto.Result, record func(i int, r auditproto.Result)) {
	var mu sync.Mutex
	sem := make(chan struct{}, auditsInFlight)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := audit(ctx, i)
			mu.Lock()
			defer mu.Unlock()
			record(i, r)
		})
	}
	wg.Wait()
}

// auditProvider audits the targets p holds. record is called from one
// goroutine at a time.
func (d *Daemon) auditProvider(ctx context.Context, p dsn.PeerID, ts []target, beacon []byte, record func(target, string, auditproto.Result)) {
	c := d.client
	if d.opts.ProofKey == nil {
		auditEach(ctx, len(ts), func(ctx context.Context, i int) auditproto.Result {
			return c.AuditOne(ctx, p, ts[i].id, ts[i].size, node.SchemeMerkle, beacon)
		}, func(i int, r auditproto.Result) { record(ts[i], node.SchemeMerkle, r) })
		return
	}
	// One aggregated challenge per batch of distinct shards: the same
	// shard in two files is proved once and counts for both.
	byID := map[dsn.ShardID][]target{}
	var batch []compact.Target
	flush := func() {
		if len(batch) == 0 {
			return
		}
		r := c.AuditProvider(ctx, p, batch, beacon)
		if r.Outcome == auditproto.Fail && len(batch) > 1 {
			// Which shards? Each alone.
			auditEach(ctx, len(batch), func(ctx context.Context, i int) auditproto.Result {
				return c.AuditOne(ctx, p, batch[i].ID, batch[i].Size, node.SchemeCompact, beacon)
			}, func(i int, one auditproto.Result) {
				for _, t := range byID[batch[i].ID] {
					record(t, node.SchemeCompact, one)
				}
			})
		} else {
			for _, ct := range batch {
				for _, t := range byID[ct.ID] {
					record(t, node.SchemeCompact, r)
				}
			}
		}
		batch = batch[:0]
		clear(byID)
	}
	for _, t := range ts {
		if _, dup := byID[t.id]; !dup {
			batch = append(batch, compact.Target{ID: t.id, Size: t.size})
		}
		byID[t.id] = append(byID[t.id], t)
		if len(batch) == maxBatch {
			flush()
		}
	}
	flush()
}

// maxBatch bounds the shards one aggregated challenge covers.
const maxBatch = 1024

// outcome maps a recorded audit's outcome; Aborted audits are not
// recorded.
func outcome(o auditproto.Outcome) owned.Outcome {
	switch o {
	case auditproto.Pass:
		return owned.Pass
	case auditproto.Fail:
		return owned.Fail
	case auditproto.Missed:
		return owned.Missed
	}
	return "aborted"
}

// RepairFiles repairs every file of this node's with a segment whose
// healthy shards fell to the repair threshold, and records the new
// holders. A shard is healthy unless the latest audit of it on its
// current holder failed or was missed: a shard not audited yet is given
// the benefit of the doubt, or every new file would be "repaired".
func (d *Daemon) RepairFiles(ctx context.Context) (repaired int) {
	files, err := d.files.Files(nil)
	if err != nil {
		d.log.Warn("repair: list files", "err", err)
		return 0
	}
	for _, f := range files {
		hs, err := d.files.Health(f.Reference.Manifest)
		if err != nil {
			d.log.Warn("repair: audit history", "file", f.Reference.Manifest, "err", err)
			continue
		}
		bad := map[[2]int]bool{}
		for _, h := range hs {
			if h.Last == nil || h.Segment >= len(f.Manifest.Segments) || h.Shard >= len(f.Manifest.Segments[h.Segment].Shards) {
				continue
			}
			if h.Last.Provider == f.Manifest.Segments[h.Segment].Shards[h.Shard].Provider && h.Last.Outcome != owned.Pass {
				bad[[2]int{h.Segment, h.Shard}] = true
			}
		}
		if len(bad) == 0 {
			continue
		}
		m, done, err := d.client.RepairFile(ctx, f.Manifest, func(s, j int) bool { return !bad[[2]int{s, j}] }, 0)
		if len(done) > 0 {
			nf := *f
			nf.Manifest = m
			if rec, perr := d.publishVersion(ctx, f, m); perr != nil {
				d.log.Warn("repair: publish the new manifest version", "file", f.Reference.Manifest, "err", perr)
			} else {
				nf.Version = rec
			}
			if aerr := d.files.Add(nf); aerr != nil {
				d.log.Error("repair: record new holders", "file", f.Reference.Manifest, "err", aerr)
			}
			d.cancelMoved(ctx, f.Manifest, m)
			for _, r := range done {
				placed := make([]string, len(r.Placed))
				for i, p := range r.Placed {
					placed[i] = d.opts.PeerString(p)
				}
				d.log.Info("repaired", "file", f.Reference.Manifest, "segment", r.Segment, "healthy_before", r.Healthy,
					"rebuilt", r.Rebuilt, "placed_on", placed)
			}
			repaired++
		}
		if err != nil && ctx.Err() == nil {
			d.log.Warn("repair", "file", f.Reference.Manifest, "err", err)
		}
	}
	return repaired
}

// cancelMoved ends, as cancelled, this node's deals for the shards a
// repair moved from old's holders to new's: the old holder is no longer
// audited for them, and must not be held to a deal it can no longer
// earn under, nor the client keep paying for it.
//
// The deal ends at the end of the current epoch: this epoch's audit of
// the old holder may already be settled, and the ledger takes no End
// before an epoch it has an outcome for.
func (d *Daemon) cancelMoved(ctx context.Context, old, new *manifest.Manifest) {
	period := d.repo.Config.EpochOrDefault()
	now := time.Unix(0, int64(EpochOf(time.Now(), period)+1)*int64(period))
	for i, seg := range old.Segments {
		if i >= len(new.Segments) {
			break
		}
		for j, sh := range seg.Shards {
			if j >= len(new.Segments[i].Shards) || new.Segments[i].Shards[j].Provider == sh.Provider {
				continue
			}
			if _, err := d.client.CancelDeal(ctx, sh.Provider, sh.ID, now); err != nil && ctx.Err() == nil {
				d.log.Warn("repair: cancel the moved shard's deal", "shard", sh.ID.Short(), "provider", d.opts.PeerString(sh.Provider), "err", err)
			}
		}
	}
}

// publishVersion publishes m, the repaired manifest of f, as the newest
// version of f's manifest, and returns the version record to keep with f.
func (d *Daemon) publishVersion(ctx context.Context, f *owned.File, m *manifest.Manifest) ([]byte, error) {
	rc, ok := f.RepairCap()
	if !ok {
		return nil, errors.New("no repair capability kept for this public file: readers find the new holders through the DHT only")
	}
	rec, err := d.client.PublishVersion(ctx, rc, m)
	if err != nil {
		return nil, err
	}
	return rec.MarshalBinary()
}

// republishInterval is how often the owner puts its files' version records
// into the DHT again: well within kad-dht's 36-hour record expiry.
const republishInterval = 12 * time.Hour

// republishEpochs is the number of epochs between republications.
func republishEpochs(period time.Duration) uint64 {
	return uint64(max(1, republishInterval/period))
}

// RepublishVersions puts the newest version record of every file of this
// node's that has one (kept with the file, or found in the DHT) into the
// DHT again, so that references keep following repairs after the DHT has
// expired the record. A newer record than the one kept (a repairer's) is
// adopted: the owner then audits and repairs the shards where they are.
func (d *Daemon) RepublishVersions(ctx context.Context) (republished int) {
	files, err := d.files.Files(nil)
	if err != nil {
		d.log.Warn("republish versions: list files", "err", err)
		return 0
	}
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		rec, err := d.client.RepublishVersion(ctx, f.Reference.Manifest, f.Manifest.Updater, f.Version)
		if err != nil {
			d.log.Warn("republish version", "file", f.Reference.Manifest, "err", err)
			continue
		}
		if rec == nil {
			continue
		}
		republished++
		if !bytes.Equal(rec, f.Version) {
			// Someone else (a repairer holding the capability) published
			// a newer version: follow it, so the owner audits and repairs
			// the shards where they now are.
			if m, err := d.client.FetchManifest(ctx, f.Reference); err == nil {
				f.Manifest = m
				f.Version = rec
				if err := d.files.Add(*f); err != nil {
					d.log.Warn("republish version: record", "file", f.Reference.Manifest, "err", err)
				}
			}
		}
	}
	return republished
}

func marketOutcome(o owned.Outcome) market.AuditOutcome {
	switch o {
	case owned.Pass:
		return market.AuditPass
	case owned.Fail:
		return market.AuditFail
	}
	return market.AuditMissed
}
