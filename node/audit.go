package node

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/proofs"
	"github.com/dsn-project/dsn/proofs/compact"
)

// Audit schemes.
const (
	// SchemeMerkle samples a shard's BLAKE3 tree: anyone who knows the
	// shard's ID can check the proof.
	SchemeMerkle = "merkle"
	// SchemeCompact is the owner's Shacham–Waters proof: a few kilobytes
	// whatever is challenged, checkable only with the owner's key.
	SchemeCompact = "compact"
)

// AuditSamples is the number of blocks or leaves each challenge samples:
// enough to catch a provider missing 1% of a shard with probability 0.99
// in one challenge (docs/proofs.md).
var AuditSamples = proofs.SamplesFor(0.01, 0.99)

// maxAuditsInFlight bounds the challenges one AuditFile runs at once; the
// per-peer limit applies beneath it.
const maxAuditsInFlight = 16

// ShardAudit is the outcome of challenging the holder of one shard.
type ShardAudit struct {
	Segment, Shard int
	ID             dsn.ShardID
	Size           int64
	Provider       dsn.PeerID
	Scheme         string
	auditproto.Result
}

// seed draws fresh auditor randomness and mixes it with the beacon.
func (c *Client) seed(beacon []byte) (proofs.Seed, error) {
	var r [32]byte
	if _, err := io.ReadFull(c.opts.Rand, r[:]); err != nil {
		return proofs.Seed{}, fmt.Errorf("audit: randomness: %w", err)
	}
	return proofs.MixSeed(r, beacon), nil
}

// AuditFile challenges the holder of every shard of m now, with scheme,
// and returns one ShardAudit per shard in manifest order. The Merkle
// scheme works for anyone holding the manifest; the compact scheme needs
// the owner's ProofKey. beacon is the epoch beacon mixed into every seed.
func (c *Client) AuditFile(ctx context.Context, m *manifest.Manifest, scheme string, beacon []byte) ([]ShardAudit, error) {
	if scheme != SchemeMerkle && scheme != SchemeCompact {
		return nil, fmt.Errorf("audit: unknown scheme %q (want %s or %s)", scheme, SchemeMerkle, SchemeCompact)
	}
	if scheme == SchemeCompact && c.opts.ProofKey == nil {
		return nil, fmt.Errorf("audit: the compact scheme needs the owner's proof key, which this node does not have")
	}
	var out []ShardAudit
	for i, seg := range m.Segments {
		for j, sh := range seg.Shards {
			out = append(out, ShardAudit{Segment: i, Shard: j, ID: sh.ID, Size: m.ShardSize(i), Provider: sh.Provider, Scheme: scheme})
		}
	}
	sem := make(chan struct{}, maxAuditsInFlight)
	var wg sync.WaitGroup
	for i := range out {
		a := &out[i]
		seed, err := c.seed(beacon)
		if err != nil {
			return nil, err
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("audit: %w", context.Cause(ctx))
		}
		wg.Go(func() {
			defer func() { <-sem }()
			a.Result = c.auditShard(ctx, a.Provider, a.ID, a.Size, scheme, seed)
		})
	}
	wg.Wait()
	return out, nil
}

// auditShard challenges p for one shard.
func (c *Client) auditShard(ctx context.Context, p dsn.PeerID, id dsn.ShardID, size int64, scheme string, seed proofs.Seed) auditproto.Result {
	release, err := c.limit.acquire(ctx, p)
	if err != nil {
		return auditproto.Result{Outcome: auditproto.Aborted, Reason: err}
	}
	defer release()
	if scheme == SchemeMerkle {
		return auditproto.AuditMerkle(ctx, c.t, p, id, size, seed, AuditSamples)
	}
	ch, err := compact.NewChallenge(seed, AuditSamples, []compact.Target{{ID: id, Size: size}})
	if err != nil {
		// Only a shard the manifest describes wrongly gets here; the
		// provider is not to blame.
		return auditproto.Result{Outcome: auditproto.Aborted, Reason: err}
	}
	return auditproto.AuditCompact(ctx, c.t, p, c.opts.ProofKey, ch)
}

// AuditProvider challenges p once for all of targets, shards it holds for
// this owner, with one aggregated compact proof: a pass vouches for every
// target, a failure says only that at least one is not held, so callers
// then audit the targets one by one to find which.
func (c *Client) AuditProvider(ctx context.Context, p dsn.PeerID, targets []compact.Target, beacon []byte) auditproto.Result {
	if c.opts.ProofKey == nil {
		return auditproto.Result{Outcome: auditproto.Aborted, Reason: fmt.Errorf("audit: no proof key")}
	}
	seed, err := c.seed(beacon)
	if err != nil {
		return auditproto.Result{Outcome: auditproto.Aborted, Reason: err}
	}
	ch, err := compact.NewChallenge(seed, AuditSamples, targets)
	if err != nil {
		return auditproto.Result{Outcome: auditproto.Aborted, Reason: err}
	}
	release, err := c.limit.acquire(ctx, p)
	if err != nil {
		return auditproto.Result{Outcome: auditproto.Aborted, Reason: err}
	}
	defer release()
	return auditproto.AuditCompact(ctx, c.t, p, c.opts.ProofKey, ch)
}

// AuditOne challenges p for one shard with scheme.
func (c *Client) AuditOne(ctx context.Context, p dsn.PeerID, id dsn.ShardID, size int64, scheme string, beacon []byte) auditproto.Result {
	seed, err := c.seed(beacon)
	if err != nil {
		return auditproto.Result{Outcome: auditproto.Aborted, Reason: err}
	}
	return c.auditShard(ctx, p, id, size, scheme, seed)
}
