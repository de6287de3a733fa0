package compact

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/proofs"
	"github.com/zeebo/blake3"
)

// Bounds on a challenge, so that neither side can be made to do unbounded
// work or hold unbounded state.
const (
	// MaxTargets bounds the shards one aggregated challenge covers.
	MaxTargets = 1 << 16
	// MaxSamples bounds c, the blocks challenged per shard.
	MaxSamples = 1 << 16
	// MaxPicks bounds c times the number of shards: 2^20 challenged blocks
	// are 6.5 GB of reads for the prover, which no auditor should ask for
	// in one challenge. At c = 459 it allows 2284 shards.
	MaxPicks = 1 << 20
)

// ErrChallenge is returned by NewChallenge for parameters out of range: no
// shards or too many, c out of [1, MaxSamples], c times the shard count above
// MaxPicks, a shard size out of [1, dsn.MaxShardSize], or a shard listed
// twice.
var ErrChallenge = errors.New("invalid compact proof challenge")

// Target is one shard a challenge covers. Size is its length in bytes; the
// owner knows it from the manifest, and it fixes the block count.
type Target struct {
	ID   dsn.ShardID
	Size int64
}

// pick is one distinct challenged block with its coefficient nu = nu[0] +
// nu[1]*2^64 + nu[2]*2^128: the sum of the 128-bit coefficients of every
// draw of that block. Summing before multiplying gives the same mu and
// sigma, and a block drawn many times (a small shard) is read and
// multiplied once.
type pick struct {
	block uint64
	nu    [3]uint64
}

// Challenge asks a provider for one proof over some of an owner's shards.
// Each shard gets its own c block indices, drawn by proofs.Sample with the
// shard ID as label, and its own c coefficients, so answers for different
// shards cannot be traded for each other.
type Challenge struct {
	seed    proofs.Seed
	c       int
	targets []Target
	picks   [][]pick // per target, in block order
}

// NewChallenge builds the challenge for seed over targets, with c blocks
// per shard. Owner and provider each build it from the same inputs and get
// the same blocks and coefficients.
func NewChallenge(seed proofs.Seed, c int, targets []Target) (*Challenge, error) {
	if len(targets) == 0 || len(targets) > MaxTargets {
		return nil, fmt.Errorf("new challenge: %d shards, want 1 to %d: %w", len(targets), MaxTargets, ErrChallenge)
	}
	if c < 1 || c > MaxSamples {
		return nil, fmt.Errorf("new challenge: c = %d, want 1 to %d: %w", c, MaxSamples, ErrChallenge)
	}
	if c*len(targets) > MaxPicks {
		return nil, fmt.Errorf("new challenge: %d shards of %d blocks each exceed %d challenged blocks: %w", len(targets), c, MaxPicks, ErrChallenge)
	}
	seen := make(map[dsn.ShardID]bool, len(targets))
	for _, t := range targets {
		if t.Size < 1 || t.Size > dsn.MaxShardSize {
			return nil, fmt.Errorf("new challenge: shard %s size %d out of range [1, %d]: %w", t.ID.Short(), t.Size, int64(dsn.MaxShardSize), ErrChallenge)
		}
		if seen[t.ID] {
			return nil, fmt.Errorf("new challenge: shard %s listed twice: %w", t.ID.Short(), ErrChallenge)
		}
		seen[t.ID] = true
	}

	base := blake3.NewDeriveKey(coefContext)
	base.Write(seed[:])
	ch := &Challenge{seed: seed, c: c, targets: slices.Clone(targets), picks: make([][]pick, len(targets))}
	buf := make([]byte, 16*c)
	for i, t := range targets {
		idx := proofs.Sample(seed, t.ID[:], uint64(Blocks(t.Size)), c)
		// The coefficients come from their own stream, keyed by the seed and
		// the shard, under a context of their own: they are independent of
		// the indices and of every other shard's coefficients.
		h := base.Clone()
		h.Write(t.ID[:])
		h.Digest().Read(buf)
		ps := make([]pick, c)
		for k := range ps {
			ps[k] = pick{block: idx[k], nu: [3]uint64{
				binary.LittleEndian.Uint64(buf[16*k:]),
				binary.LittleEndian.Uint64(buf[16*k+8:]),
			}}
		}
		// Block order turns the prover's reads into one forward pass and
		// puts repeats of a block side by side, to be merged.
		slices.SortStableFunc(ps, func(a, b pick) int { return cmp.Compare(a.block, b.block) })
		merged := ps[:0]
		for _, p := range ps {
			if n := len(merged); n > 0 && merged[n-1].block == p.block {
				m := &merged[n-1].nu
				var cy uint64
				m[0], cy = bits.Add64(m[0], p.nu[0], 0)
				m[1], cy = bits.Add64(m[1], p.nu[1], cy)
				m[2] += cy // at most c <= 2^16 carries
				continue
			}
			merged = append(merged, p)
		}
		ch.picks[i] = slices.Clip(merged)
	}
	return ch, nil
}

// Seed returns the challenge's seed.
func (ch *Challenge) Seed() proofs.Seed { return ch.seed }

// C returns the number of blocks challenged per shard.
func (ch *Challenge) C() int { return ch.c }

// Targets returns the shards the challenge covers, in the order given.
func (ch *Challenge) Targets() []Target { return slices.Clone(ch.targets) }

// Blocks returns the distinct block indices challenged in target i, in
// ascending order: what the prover will read, for a caller that wants to
// prefetch.
func (ch *Challenge) Blocks(i int) []uint64 {
	out := make([]uint64, len(ch.picks[i]))
	for k, p := range ch.picks[i] {
		out[k] = p.block
	}
	return out
}
