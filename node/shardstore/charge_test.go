package shardstore

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/proofs/compact"
	"github.com/dsn-project/dsn/proofs/merkle"
)

func TestCharge(t *testing.T) {
	tests := []struct {
		size, want int64
	}{
		{0, 4096 + 1024},
		{1, 4096 + 4096 + 1024},
		{16, 4096 + 4096 + 1024},
		{4096, 4096 + 4096 + 32 + 1024},
		{4097, 8192 + 4096 + 32 + 1024},
		{1 << 20, 1<<20 + 4096 + 8192 + 1024},
		{dsn.MaxShardSize, dsn.MaxShardSize + 4096 + dsn.MaxShardSize/128 + 1024},
	}
	for _, tt := range tests {
		if got := Charge(tt.size); got != tt.want {
			t.Errorf("Charge(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}

// TestSidecarAllowanceCoversProofs checks that the proof material a
// provider keeps for a shard, a Merkle outboard and one owner's compact
// tags under names of the longest length allowed, fits in the allowance
// its charge already holds: a store that is full must still be able to
// rebuild an outboard or take an owner's tags for a shard it holds.
func TestSidecarAllowanceCoversProofs(t *testing.T) {
	name := strings.Repeat("n", MaxSidecarName)
	for _, size := range []int64{0, 1, 16, 6199, 6200, 6201, 16384, 16385, 1<<20 + 3, 4<<20 - 1} {
		b := randShard(byte(size), int(size))
		w := merkle.NewOutboardWriter()
		w.Write(b)
		ob, err := w.Sum().MarshalBinary()
		if err != nil {
			t.Fatalf("outboard of %d bytes: %v", size, err)
		}
		need := sidecarCost(name, len(ob)) + sidecarCost(name, int(compact.TagsSize(size)))
		if allow := SidecarAllowance(size); need > allow {
			t.Errorf("SidecarAllowance(%d) = %d, want at least the %d an outboard (%d bytes) and tags (%d bytes) take",
				size, allow, need, len(ob), compact.TagsSize(size))
		}
	}
	// The largest shard, without building its outboard.
	size := int64(dsn.MaxShardSize)
	need := sidecarCost(name, merkle.MaxOutboardSize) + sidecarCost(name, int(compact.TagsSize(size)))
	if allow := SidecarAllowance(size); need > allow {
		t.Errorf("SidecarAllowance(%d) = %d, want at least %d", size, allow, need)
	}
}

// TestSidecarsCharged checks that sidecar bytes beyond a shard's allowance
// count toward usage, are refused when they do not fit, and are given
// back when replaced or removed, and that the figures survive a reopen.
func TestSidecarsCharged(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	const size = 1000
	capacity := Charge(size) + 20000
	s := openT(t, fs, "/store", capacity)
	id := mustPut(t, s, randShard(1, size))
	wantUsed := func(want int64) {
		t.Helper()
		if u := mustUsage(t, s); u.Used != want || u.Capacity != capacity {
			t.Fatalf("Usage() = %+v, want %d of %d used", u, want, capacity)
		}
	}
	wantUsed(Charge(size))
	// Within the allowance: already paid for.
	small := bytes.Repeat([]byte{1}, int(SidecarAllowance(size)-sidecarCost("outboard", 0)))
	if err := s.PutSidecar(ctx, id, "outboard", small); err != nil {
		t.Fatalf("PutSidecar(within allowance) = %v", err)
	}
	wantUsed(Charge(size))
	// Beyond it: charged byte for byte.
	if err := s.PutSidecar(ctx, id, "tags/a", make([]byte, 15000)); err != nil {
		t.Fatalf("PutSidecar(15000 bytes) = %v", err)
	}
	over := sidecarCost("tags/a", 15000)
	wantUsed(Charge(size) + over)
	// More than is free: refused, nothing kept or charged.
	if err := s.PutSidecar(ctx, id, "tags/b", make([]byte, 20000)); !errors.Is(err, dsn.ErrNoSpace) {
		t.Fatalf("PutSidecar(beyond capacity) = %v, want %v", err, dsn.ErrNoSpace)
	}
	if _, err := s.Sidecar(ctx, id, "tags/b"); !errors.Is(err, ErrSidecarNotFound) {
		t.Fatalf("Sidecar(refused) = %v, want %v", err, ErrSidecarNotFound)
	}
	wantUsed(Charge(size) + over)
	// A shard that does not fit beside them is refused too.
	b := randShard(2, size)
	if err := s.ReceiveShard(ctx, dsn.SumShard(b), size, bytes.NewReader(b)); !errors.Is(err, dsn.ErrNoSpace) {
		t.Fatalf("ReceiveShard(into a full store) = %v, want %v", err, dsn.ErrNoSpace)
	}
	// Reopening recounts the same figure, silently.
	s.Close()
	var logs logBuffer
	s, err := Open("/store", Options{FS: fs, Capacity: capacity, Logger: logs.logger()})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	wantUsed(Charge(size) + over)
	if strings.Contains(logs.String(), "usage") {
		t.Errorf("reopening a consistent store logged about usage:\n%s", logs.String())
	}
	// Replacing with fewer bytes gives the difference back.
	if err := s.PutSidecar(ctx, id, "tags/a", make([]byte, 100)); err != nil {
		t.Fatalf("PutSidecar(replace) = %v", err)
	}
	wantUsed(Charge(size) + sidecarCost("tags/a", 100))
	if err := s.RemoveShard(ctx, id); err != nil {
		t.Fatalf("RemoveShard = %v", err)
	}
	wantUsed(0)
}

// bigBuilder makes a sidecar of n bytes.
type bigBuilder struct{ n int }

func (b *bigBuilder) Write(p []byte) (int, error) { return len(p), nil }
func (b *bigBuilder) Sidecar(dsn.ShardID) (string, []byte, error) {
	return "big", make([]byte, b.n), nil
}

// TestBuiltSidecarsCharged checks that sidecars built while a shard is
// received count beyond the allowance, and refuse the shard when the
// store has no room for them.
func TestBuiltSidecarsCharged(t *testing.T) {
	const size, big = 1000, 30000
	extra := sidecarCost("big", big) - SidecarAllowance(size)
	capacity := Charge(size) + extra + Charge(size) // room for one shard and its sidecar, and one more plain shard
	s, err := Open("/store", Options{FS: vfs.NewMem(), Capacity: capacity, Logger: quietLogger(),
		Sidecars: func(dsn.ShardID, int64) []SidecarBuilder { return []SidecarBuilder{&bigBuilder{big}} }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustPut(t, s, randShard(1, size))
	if u := mustUsage(t, s); u.Used != Charge(size)+extra {
		t.Fatalf("Usage().Used = %d, want %d: the shard and its sidecar beyond the allowance", u.Used, Charge(size)+extra)
	}
	b := randShard(2, size)
	id := dsn.SumShard(b)
	if err := s.ReceiveShard(context.Background(), id, size, bytes.NewReader(b)); !errors.Is(err, dsn.ErrNoSpace) {
		t.Fatalf("ReceiveShard(sidecar does not fit) = %v, want %v", err, dsn.ErrNoSpace)
	}
	if _, err := s.StatShard(context.Background(), id); !errors.Is(err, dsn.ErrShardNotFound) {
		t.Fatalf("StatShard(refused shard) = %v, want %v", err, dsn.ErrShardNotFound)
	}
	if u := mustUsage(t, s); u.Shards != 1 || u.Used != Charge(size)+extra {
		t.Fatalf("Usage() after the refusal = %+v, want 1 shard, %d used", u, Charge(size)+extra)
	}
}

// TestUsageRecountedOnUpgrade opens a store whose usage record counts the
// shards' sizes, as stores did before shards were charged their blocks:
// Open reports the charged figure, and says so at Info, not as damage.
func TestUsageRecountedOnUpgrade(t *testing.T) {
	fs := vfs.NewMem()
	s := openT(t, fs, "/store", 1<<20)
	mustPut(t, s, randShard(1, 100))
	mustPut(t, s, randShard(2, 5000))
	if err := s.db.Set(usageKey, usageRecord{Shards: 2, Used: 5100}.encode(), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var logs logBuffer
	s, err := Open("/store", Options{FS: fs, Capacity: 1 << 20, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := dsn.Usage{Shards: 2, Used: Charge(100) + Charge(5000), Capacity: 1 << 20}
	if got := mustUsage(t, s); got != want {
		t.Fatalf("Usage() after upgrade = %+v, want %+v", got, want)
	}
	log := logs.String()
	if !strings.Contains(log, "level=INFO msg=\"usage recounted") || strings.Contains(log, "corrected") {
		t.Errorf("upgrade log: want an Info recount and no correction:\n%s", log)
	}
	if stored, err := s.readUsage(); err != nil || stored != (usageRecord{Shards: 2, Used: want.Used}) {
		t.Errorf("stored usage record = %+v, %v; want the recounted one", stored, err)
	}
}
