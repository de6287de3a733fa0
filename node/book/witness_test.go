package book

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
)

// grow appends n deals to provider's log (shards held by everyone in the
// world) and returns a checkpoint.
func grow(t *testing.T, c, p *party, ids []dsn.ShardID) []byte {
	t.Helper()
	for _, id := range ids {
		deal(t, c, p, id, 100)
	}
	note, err := p.book.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return note
}

func TestWitness(t *testing.T) {
	var ids []dsn.ShardID
	held := map[dsn.ShardID]int64{}
	for i := range 6 {
		id := dsn.SumShard([]byte{'w', byte(i)})
		ids = append(ids, id)
		held[id] = 100
	}
	ps := world(t, held, "client", "client2", "provider")
	c, p := ps["client"], ps["provider"]
	prove := func(ctx context.Context, old, new int64) (tlog.TreeProof, error) {
		return p.book.ProveConsistency(ctx, old, new)
	}
	dir := filepath.Join(t.TempDir(), "witness")
	w, err := OpenWitness(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pk := p.book.Self()

	first := grow(t, c, p, ids[:2])
	if err := w.Observe(ctx, pk, first, prove); err != nil {
		t.Fatalf("first checkpoint: %v", err)
	}
	second := grow(t, c, p, ids[2:4])
	if err := w.Observe(ctx, pk, second, prove); err != nil {
		t.Fatalf("a checkpoint that extends the first: %v", err)
	}
	if l, _ := w.Latest(pk); l.Size != 4 {
		t.Fatalf("latest kept = size %d, want 4", l.Size)
	}
	// An old checkpoint seen late is checked against the newer one.
	if err := w.Observe(ctx, pk, first, prove); err != nil {
		t.Errorf("an older, consistent checkpoint: %v", err)
	}
	// Notes that are not the node's checkpoints conclude nothing.
	if err := w.Observe(ctx, c.book.Self(), second, prove); err == nil || errors.Is(err, ledger.ErrFork) {
		t.Errorf("a checkpoint under the wrong node = %v, want a rejection that is no fork", err)
	}
	if err := w.Observe(ctx, pk, []byte("garbage"), prove); err == nil || errors.Is(err, ledger.ErrFork) {
		t.Errorf("garbage = %v, want a rejection that is no fork", err)
	}
	if !w.Trusted(pk) {
		t.Fatal("provider distrusted after consistent checkpoints")
	}

	// The provider rewrites its history: the same key signs another log
	// of the same size.
	other, err := Open(filepath.Join(t.TempDir(), "forked"), p.key, Options{KeyOf: p.book.opts.KeyOf, Holds: p.book.opts.Holds})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	forked := &party{id: p.id, key: p.key, book: other}
	fork := grow(t, ps["client2"], forked, []dsn.ShardID{ids[5], ids[4], ids[3], ids[2]})
	err = w.Observe(ctx, pk, fork, func(ctx context.Context, old, new int64) (tlog.TreeProof, error) {
		return other.ProveConsistency(ctx, old, new)
	})
	if !errors.Is(err, ledger.ErrFork) {
		t.Fatalf("a forked checkpoint of the same size = %v, want ErrFork", err)
	}
	if w.Trusted(pk) {
		t.Fatal("a forking node is still trusted")
	}

	// Evidence outlives a restart, and checks out by itself.
	w2, err := OpenWitness(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev := w2.Distrusted()
	if len(ev) != 1 || ev[0].Node != pk {
		t.Fatalf("evidence after reopening = %+v, want one entry against the provider", ev)
	}
	a, errA := ledger.VerifyCheckpoint(ev[0].Older, pk)
	b, errB := ledger.VerifyCheckpoint(ev[0].Newer, pk)
	if errA != nil || errB != nil || a.Size != b.Size || a.Hash == b.Hash {
		t.Errorf("evidence = %v %v / %v %v: want two signed checkpoints of one size with different hashes", a.Size, errA, b.Size, errB)
	}
}

// A longer history that does not extend the one seen is a fork too,
// found through the consistency proof.
func TestWitnessInconsistentGrowth(t *testing.T) {
	var ids []dsn.ShardID
	held := map[dsn.ShardID]int64{}
	for i := range 5 {
		id := dsn.SumShard([]byte{'g', byte(i)})
		ids = append(ids, id)
		held[id] = 100
	}
	ps := world(t, held, "client", "client2", "provider")
	c, p := ps["client"], ps["provider"]
	w, err := OpenWitness(filepath.Join(t.TempDir(), "witness"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := grow(t, c, p, ids[:2])
	if err := w.Observe(ctx, p.book.Self(), first, nil); err != nil {
		t.Fatal(err)
	}
	other, err := Open(filepath.Join(t.TempDir(), "forked"), p.key, Options{KeyOf: p.book.opts.KeyOf, Holds: p.book.opts.Holds})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	longer := grow(t, ps["client2"], &party{id: p.id, key: p.key, book: other}, []dsn.ShardID{ids[4], ids[3], ids[2]})
	err = w.Observe(ctx, p.book.Self(), longer, func(ctx context.Context, old, new int64) (tlog.TreeProof, error) {
		return other.ProveConsistency(ctx, old, new)
	})
	if !errors.Is(err, ledger.ErrFork) || w.Trusted(p.book.Self()) {
		t.Fatalf("a longer history that rewrites the first = %v (trusted %v), want ErrFork", err, w.Trusted(p.book.Self()))
	}
}

func FuzzDecodeEvidence(f *testing.F) {
	f.Add([]byte(`[{"older":"ZHNu","newer":"ZHNu","reason":"x","found":"2026-01-01T00:00:00Z"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := decodeEvidence(b)
		if err != nil {
			return
		}
		for _, e := range ev {
			if _, err := ledger.VerifyCheckpoint(e.Older, e.Node); err != nil {
				t.Fatalf("accepted evidence with a bad checkpoint: %v", err)
			}
		}
	})
}
