package auditproto

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/proofs"
	"github.com/dsn-project/dsn/proofs/compact"
	"github.com/dsn-project/dsn/proofs/merkle"
)

// TestHonestProviderPasses audits shards of several sizes, from one byte
// to a few groups past a MiB, over 50 epochs with both schemes: every
// audit passes.
func TestHonestProviderPasses(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	sizes := []int{1, 1000, merkle.GroupSize, merkle.GroupSize + 1, compact.BlockSize * 3, 100_003, 1<<20 + 17}
	var targets []compact.Target
	for i, n := range sizes {
		id := f.add(t, i, n)
		f.tag(t, id)
		targets = append(targets, compact.Target{ID: id, Size: int64(n)})
	}
	const epochs, c = 50, 64
	var proofBytes int
	for e := range epochs {
		seed := epochSeed(e)
		for _, tg := range targets {
			r := AuditMerkle(ctx, f.third, f.provider, tg.ID, tg.Size, seed, c)
			if r.Outcome != Pass {
				t.Fatalf("epoch %d: AuditMerkle(%d-byte shard) = %v (%v), want Pass", e, tg.Size, r.Outcome, r.Reason)
			}
			proofBytes += r.ProofBytes
		}
		r := AuditCompact(ctx, f.owner, f.provider, f.key, challenge(t, seed, c, targets...))
		if r.Outcome != Pass {
			t.Fatalf("epoch %d: AuditCompact(%d shards) = %v (%v), want Pass", e, len(targets), r.Outcome, r.Reason)
		}
		if r.ProofBytes != compact.ProofSize {
			t.Errorf("epoch %d: compact proof of %d bytes, want %d", e, r.ProofBytes, compact.ProofSize)
		}
		proofBytes += r.ProofBytes
	}
	got := f.srv.Stats()
	want := Stats{
		TagsStored:     int64(len(sizes)),
		MerkleProofs:   int64(epochs * len(sizes)),
		CompactProofs:  epochs,
		OutboardsBuilt: int64(len(sizes)), // once per shard, then kept
		TagBytesIn:     got.TagBytesIn,
		ProofBytesOut:  int64(proofBytes),
	}
	if got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	var tagBytes int64
	for _, tg := range targets {
		tagBytes += compact.TagsSize(tg.Size)
	}
	if got.TagBytesIn != tagBytes {
		t.Errorf("Stats().TagBytesIn = %d, want %d", got.TagBytesIn, tagBytes)
	}
}

// TestPrepareBuildsOutboard checks that a prepared shard is proved from the
// stored outboard, without another build.
func TestPrepareBuildsOutboard(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 1, 200_000)
	if err := f.srv.Prepare(ctx, id); err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	if _, err := f.store.Sidecar(ctx, id, OutboardSidecar); err != nil {
		t.Fatalf("Sidecar(%q) after Prepare = %v", OutboardSidecar, err)
	}
	if r := AuditMerkle(ctx, f.third, f.provider, id, f.size(id), epochSeed(0), 32); r.Outcome != Pass {
		t.Fatalf("AuditMerkle = %v (%v), want Pass", r.Outcome, r.Reason)
	}
	if n := f.srv.Stats().OutboardsBuilt; n != 1 {
		t.Errorf("OutboardsBuilt = %d, want 1", n)
	}
	var unknown dsn.ShardID
	if err := f.srv.Prepare(ctx, unknown); !errors.Is(err, dsn.ErrShardNotFound) {
		t.Errorf("Prepare(unknown shard) = %v, want dsn.ErrShardNotFound", err)
	}
}

// zeroPercent zeroes a contiguous 1% of a stored shard behind the store's
// back and returns the fraction of leaves (1 KiB chunks) and of compact
// blocks it touched.
func zeroPercent(t *testing.T, f *fixture, id dsn.ShardID) (fLeaves, fBlocks float64) {
	size := f.size(id)
	n := size / 100
	off := size * 37 / 100
	f.overwrite(t, id, off, make([]byte, n))
	leaves := (off+n-1)/1024 - off/1024 + 1
	blocks := (off+n-1)/compact.BlockSize - off/compact.BlockSize + 1
	return float64(leaves) / float64(merkle.Chunks(size)), float64(blocks) / float64(compact.Blocks(size))
}

// TestOnePercentZeroed: a provider whose shard file lost 1% of its bytes
// (zeroed on disk, the store unaware) fails about as often as 1-(1-f)^c
// says, for both schemes.
func TestOnePercentZeroed(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 7, 1<<20)
	f.tag(t, id)
	c := proofs.SamplesFor(0.01, 0.99) // 459
	// Audited once while whole, so the outboard is built from good bytes.
	if r := AuditMerkle(ctx, f.third, f.provider, id, f.size(id), epochSeed(-1), c); r.Outcome != Pass {
		t.Fatalf("AuditMerkle before the damage = %v (%v), want Pass", r.Outcome, r.Reason)
	}
	fl, fb := zeroPercent(t, f, id)

	const seeds = 100
	var merkleFails, compactFails int
	for i := range seeds {
		r := AuditMerkle(ctx, f.third, f.provider, id, f.size(id), epochSeed(i), c)
		switch r.Outcome {
		case Fail:
			merkleFails++
			if !errors.Is(r.Reason, dsn.ErrCorruptShard) {
				t.Errorf("seed %d: AuditMerkle failed with %v, want the provider's Corrupt", i, r.Reason)
			}
		case Pass:
		default:
			t.Fatalf("seed %d: AuditMerkle = %v (%v), want Pass or Fail", i, r.Outcome, r.Reason)
		}
		r = AuditCompact(ctx, f.owner, f.provider, f.key, challenge(t, epochSeed(i), c, compact.Target{ID: id, Size: f.size(id)}))
		switch r.Outcome {
		case Fail:
			compactFails++
			if !errors.Is(r.Reason, compact.ErrInvalidProof) {
				t.Errorf("seed %d: AuditCompact failed with %v, want compact.ErrInvalidProof", i, r.Reason)
			}
		case Pass:
		default:
			t.Fatalf("seed %d: AuditCompact = %v (%v), want Pass or Fail", i, r.Outcome, r.Reason)
		}
	}
	t.Logf("merkle: %d/%d failed, formula %.4f (f = %.4f of leaves); compact: %d/%d failed, formula %.4f (f = %.4f of blocks)",
		merkleFails, seeds, proofs.Detection(fl, c), fl, compactFails, seeds, proofs.Detection(fb, c), fb)
	if merkleFails < seeds*90/100 {
		t.Errorf("merkle: %d of %d audits failed, want at least 90%% (formula: %.3f)", merkleFails, seeds, proofs.Detection(fl, c))
	}
	if compactFails < seeds*90/100 {
		t.Errorf("compact: %d of %d audits failed, want at least 90%% (formula: %.3f)", compactFails, seeds, proofs.Detection(fb, c))
	}
}

// TestCorruptBeforeOutboard: a shard damaged before its first challenge
// has its outboard built from the damaged bytes, whose root is not the ID:
// the provider answers Corrupt and keeps no outboard.
func TestCorruptBeforeOutboard(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 3, 50_000)
	f.overwrite(t, id, 40_000, []byte{0})
	for i := range 3 {
		r := AuditMerkle(ctx, f.third, f.provider, id, f.size(id), epochSeed(i), 1)
		if r.Outcome != Fail || !errors.Is(r.Reason, dsn.ErrCorruptShard) {
			t.Errorf("AuditMerkle(seed %d) = %v (%v), want Fail with dsn.ErrCorruptShard", i, r.Outcome, r.Reason)
		}
	}
	if _, err := f.store.Sidecar(ctx, id, OutboardSidecar); !errors.Is(err, shardstore.ErrSidecarNotFound) {
		t.Errorf("Sidecar(%q) after a corrupt build = %v, want none kept", OutboardSidecar, err)
	}
	if got := f.srv.Stats(); got.OutboardsBuilt != 0 || got.ChallengeErrors != 3 {
		t.Errorf("Stats() = %+v, want no outboard built and 3 challenge errors", got)
	}
}

// TestFlippedBit: one flipped bit is caught exactly when a challenge
// samples the leaf (Merkle) or block (compact) holding it. Seeds are
// searched, deterministically, for one that samples it and one that does
// not.
func TestFlippedBit(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	const size = 300_000
	id := f.add(t, 11, size)
	f.tag(t, id)
	const c = 4
	if r := AuditMerkle(ctx, f.third, f.provider, id, size, epochSeed(-1), c); r.Outcome != Pass {
		t.Fatalf("AuditMerkle before the flip = %v (%v), want Pass", r.Outcome, r.Reason)
	}
	const off = 123_456
	f.overwrite(t, id, off, []byte{f.shards[id][off] ^ 0x10})

	leaf, group, block := uint64(off/1024), uint64(off/merkle.GroupSize), uint64(off/compact.BlockSize)
	hitLeaf, missGroup := -1, -1
	for i := 0; i < 10_000 && (hitLeaf < 0 || missGroup < 0); i++ {
		idx := merkle.Indices(epochSeed(i), id, merkle.Chunks(size), c)
		switch {
		case hitLeaf < 0 && slices.Contains(idx, leaf):
			hitLeaf = i
		case missGroup < 0 && !slices.ContainsFunc(idx, func(x uint64) bool { return x/merkle.GroupChunks == group }):
			missGroup = i
		}
	}
	if hitLeaf < 0 || missGroup < 0 {
		t.Fatalf("no seed found: hit %d, miss %d", hitLeaf, missGroup)
	}
	if r := AuditMerkle(ctx, f.third, f.provider, id, size, epochSeed(hitLeaf), c); r.Outcome != Fail {
		t.Errorf("AuditMerkle(seed sampling the flipped leaf) = %v (%v), want Fail", r.Outcome, r.Reason)
	}
	if r := AuditMerkle(ctx, f.third, f.provider, id, size, epochSeed(missGroup), c); r.Outcome != Pass {
		t.Errorf("AuditMerkle(seed missing the flipped group) = %v (%v), want Pass", r.Outcome, r.Reason)
	}

	target := compact.Target{ID: id, Size: size}
	hit, miss := -1, -1
	for i := 0; i < 10_000 && (hit < 0 || miss < 0); i++ {
		has := slices.Contains(challenge(t, epochSeed(i), c, target).Blocks(0), block)
		switch {
		case hit < 0 && has:
			hit = i
		case miss < 0 && !has:
			miss = i
		}
	}
	if hit < 0 || miss < 0 {
		t.Fatalf("no seed found: hit %d, miss %d", hit, miss)
	}
	if r := AuditCompact(ctx, f.owner, f.provider, f.key, challenge(t, epochSeed(hit), c, target)); r.Outcome != Fail || !errors.Is(r.Reason, compact.ErrInvalidProof) {
		t.Errorf("AuditCompact(seed sampling the flipped block) = %v (%v), want Fail with compact.ErrInvalidProof", r.Outcome, r.Reason)
	}
	if r := AuditCompact(ctx, f.owner, f.provider, f.key, challenge(t, epochSeed(miss), c, target)); r.Outcome != Pass {
		t.Errorf("AuditCompact(seed missing the flipped block) = %v (%v), want Pass", r.Outcome, r.Reason)
	}
}

// TestNoTags: a compact challenge of a shard the provider holds without
// the owner's tags fails, and says why.
func TestNoTags(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 1, 20_000)
	r := AuditCompact(ctx, f.owner, f.provider, f.key, challenge(t, epochSeed(0), 8, compact.Target{ID: id, Size: f.size(id)}))
	if r.Outcome != Fail || !errors.Is(r.Reason, ErrNoTags) || r.ProofBytes != 0 {
		t.Errorf("AuditCompact(no tags) = %v (%v), %d proof bytes; want Fail with ErrNoTags and no proof", r.Outcome, r.Reason, r.ProofBytes)
	}
}

// TestNonOwnerGetsNothing: the provider proves a compact challenge only
// from the challenger's own tags, so a third peer challenging the owner's
// shards gets no proof, even holding the owner's key.
func TestNonOwnerGetsNothing(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 1, 20_000)
	f.tag(t, id)
	ch := challenge(t, epochSeed(0), 8, compact.Target{ID: id, Size: f.size(id)})
	if r := AuditCompact(ctx, f.owner, f.provider, f.key, ch); r.Outcome != Pass {
		t.Fatalf("AuditCompact(owner) = %v (%v), want Pass", r.Outcome, r.Reason)
	}
	for _, key := range []*compact.Key{ownerKey("auditor"), f.key} {
		r := AuditCompact(ctx, f.third, f.provider, key, ch)
		if r.Outcome != Fail || !errors.Is(r.Reason, ErrNoTags) || r.ProofBytes != 0 {
			t.Errorf("AuditCompact(third peer) = %v (%v), %d proof bytes; want Fail with ErrNoTags and no proof", r.Outcome, r.Reason, r.ProofBytes)
		}
	}
	if TagsSidecar(f.owner.Self()) == TagsSidecar(f.third.Self()) {
		t.Error("two peers share a tags sidecar name")
	}
}

func TestTagsSidecarName(t *testing.T) {
	long := dsn.PeerID(bytes.Repeat([]byte{0xab}, dsn.MaxPeerIDSize))
	for _, p := range []dsn.PeerID{"", "a", long} {
		name := TagsSidecar(p)
		if len(name) != 40 || name[:8] != "compact/" {
			t.Errorf("TagsSidecar(%q) = %q, want compact/ and 32 hex digits", p, name)
		}
	}
}

// TestChallengeErrors: answers the provider gives for challenges it cannot
// prove, and the outcomes they make.
func TestChallengeErrors(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 1, 20_000)
	f.tag(t, id)
	_, unknown := shardBytes(99, 100)
	tests := []struct {
		name    string
		run     func() Result
		outcome Outcome
		reason  error
	}{
		{"merkle, shard not held", func() Result {
			return AuditMerkle(ctx, f.third, f.provider, unknown, 100, epochSeed(0), 4)
		}, Fail, dsn.ErrShardNotFound},
		{"merkle, wrong size", func() Result {
			return AuditMerkle(ctx, f.third, f.provider, id, f.size(id)+1, epochSeed(0), 4)
		}, Fail, merkle.ErrWrongChallenge},
		{"compact, shard not held", func() Result {
			return AuditCompact(ctx, f.owner, f.provider, f.key, challenge(t, epochSeed(0), 4, compact.Target{ID: unknown, Size: 100}))
		}, Fail, dsn.ErrShardNotFound},
		{"compact, wrong size", func() Result {
			return AuditCompact(ctx, f.owner, f.provider, f.key, challenge(t, epochSeed(0), 4, compact.Target{ID: id, Size: f.size(id) + 1}))
		}, Fail, dsn.ErrShardSize},
		{"compact, second target untagged", func() Result {
			other := f.add(t, 2, 7000)
			return AuditCompact(ctx, f.owner, f.provider, f.key, challenge(t, epochSeed(0), 4,
				compact.Target{ID: id, Size: f.size(id)}, compact.Target{ID: other, Size: 7000}))
		}, Fail, ErrNoTags},
		{"merkle, c over the protocol's bound", func() Result {
			return AuditMerkle(ctx, f.third, f.provider, id, f.size(id), epochSeed(0), MaxMerkleSamples+1)
		}, Aborted, ErrOutOfBounds},
		{"merkle, empty shard", func() Result {
			return AuditMerkle(ctx, f.third, f.provider, id, 0, epochSeed(0), 1)
		}, Aborted, ErrOutOfBounds},
		{"compact, too many blocks", func() Result {
			var many []compact.Target
			for i := range MaxPicks/compact.MaxSamples + 1 {
				_, other := shardBytes(1000+i, 10)
				many = append(many, compact.Target{ID: other, Size: 10})
			}
			return AuditCompact(ctx, f.owner, f.provider, f.key, challenge(t, epochSeed(0), compact.MaxSamples, many...))
		}, Aborted, ErrOutOfBounds},
		{"protocol not served", func() Result {
			return AuditMerkle(ctx, f.third, f.owner.Self(), id, f.size(id), epochSeed(0), 4)
		}, Missed, dsn.ErrProtocolNotSupported},
		{"unknown peer", func() Result {
			return AuditMerkle(ctx, f.third, "nobody", id, f.size(id), epochSeed(0), 4)
		}, Missed, dsn.ErrUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.run()
			if r.Outcome != tc.outcome || !errors.Is(r.Reason, tc.reason) {
				t.Errorf("audit = %v (%v), want %v with %v", r.Outcome, r.Reason, tc.outcome, tc.reason)
			}
		})
	}
}

func TestKilledProviderMissed(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 1, 20_000)
	f.net.Kill(f.provider)
	r := AuditMerkle(ctx, f.third, f.provider, id, f.size(id), epochSeed(0), 4)
	if r.Outcome != Missed || !errors.Is(r.Reason, dsn.ErrUnreachable) {
		t.Errorf("AuditMerkle(killed provider) = %v (%v), want Missed with dsn.ErrUnreachable", r.Outcome, r.Reason)
	}
}

func TestPutTagsErrors(t *testing.T) {
	ctx := testCtx(t)
	refuse := errors.New("not your shard")
	f := newFixture(t, ServerOptions{AcceptTags: func(_ context.Context, owner dsn.PeerID, _ dsn.ShardID) error {
		if owner != "owner" {
			return refuse
		}
		return nil
	}})
	id := f.add(t, 1, 20_000)
	good, err := f.key.Tags(id, f.shards[id])
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	copy(bad[1:33], bytes.Repeat([]byte{0xff}, 32)) // not a canonical scalar
	_, unknown := shardBytes(99, 100)
	tests := []struct {
		name string
		tr   dsn.Transport
		id   dsn.ShardID
		tags []byte
		want error
	}{
		{"too short", f.owner, id, good[:len(good)-1], dsn.ErrShardSize},
		{"too long", f.owner, id, append(bytes.Clone(good), 0), dsn.ErrShardSize},
		{"empty", f.owner, id, nil, dsn.ErrShardSize},
		{"over the protocol's bound", f.owner, id, make([]byte, MaxTagsSize+1), dsn.ErrShardSize},
		{"shard not held", f.owner, unknown, good, dsn.ErrShardNotFound},
		{"not canonical", f.owner, id, bad, ErrBadRequest},
		{"refused peer", f.third, id, good, ErrRefused},
		{"ok", f.owner, id, good, nil},
	}
	for _, tc := range tests {
		err := PutTags(ctx, tc.tr, f.provider, tc.id, tc.tags)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("PutTags(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
	got, err := f.store.Sidecar(ctx, id, TagsSidecar("owner"))
	if err != nil || !bytes.Equal(got, good) {
		t.Errorf("stored tags = %d bytes, %v; want the %d good bytes", len(got), err, len(good))
	}
	if s := f.srv.Stats(); s.TagsStored != 1 || s.TagErrors != 5 || s.BadRequests != 1 {
		t.Errorf("Stats() = %+v, want 1 stored, 5 errors (two sizes, not held, bad, refused), 1 bad request", s)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Aborted: "Aborted", Pass: "Pass", Fail: "Fail", Missed: "Missed", 9: "Outcome(9)"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}
