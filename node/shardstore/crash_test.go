package shardstore

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/dsn-project/dsn"
)

// crashPoint is a crash-consistent copy of the file system taken just
// before one write-type file system operation, with what the store had
// acknowledged at that moment.
type crashPoint struct {
	name  string
	fs    *vfs.MemFS
	acked map[dsn.ShardID][]byte
	// inflight is the shard of the operation in progress, if any: after the
	// crash it may be present or absent, but if present its bytes must be
	// right, and a shard that could never be acknowledged (valid false)
	// must be absent.
	inflight *inflightOp
}

type inflightOp struct {
	id    dsn.ShardID
	b     []byte
	valid bool
}

// crashRecorder takes a crash clone at every write-type operation while
// recording.
type crashRecorder struct {
	mem *vfs.MemFS
	rng *rand.Rand

	mu        sync.Mutex
	recording bool
	acked     map[dsn.ShardID][]byte
	inflight  *inflightOp
	opName    string
	ops       int
	points    []crashPoint
}

func (c *crashRecorder) MaybeError(op errorfs.Op) error {
	if op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.recording {
		return nil
	}
	c.ops++
	// Alternate between "only synced data survives" and "a random half of
	// the unsynced data survives too": both are possible crashes.
	cfg := vfs.CrashCloneCfg{}
	if c.ops%2 == 0 {
		cfg = vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: c.rng}
	}
	c.points = append(c.points, crashPoint{
		name:     fmt.Sprintf("op %d (%v %s) during %s, unsynced %d%%", c.ops, op.Kind, op.Path, c.opName, cfg.UnsyncedDataPercent),
		fs:       c.mem.CrashClone(cfg),
		acked:    maps.Clone(c.acked),
		inflight: c.inflight,
	})
	return nil
}

func (c *crashRecorder) String() string { return "crash recorder" }

// begin and end bracket one store operation.
func (c *crashRecorder) begin(name string, op *inflightOp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opName, c.inflight = name, op
}

func (c *crashRecorder) end(update func(map[dsn.ShardID][]byte)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if update != nil {
		update(c.acked)
	}
	c.opName, c.inflight = "between operations", nil
}

// TestCrash runs a sequence of receives (good, duplicate, corrupt, empty,
// multi-block) and removes, crashes the file system before every write,
// sync, rename and remove the store or pebble makes, reopens each crash
// image and checks: every acknowledged shard is there with its bytes, no
// unacknowledged shard is visible, Usage equals the sum of the listed
// shards, no temp or orphan file remains, and the store takes new shards.
func TestCrash(t *testing.T) {
	rec := &crashRecorder{
		mem:   vfs.NewCrashableMem(),
		rng:   rand.New(rand.NewPCG(1, 2)),
		acked: map[dsn.ShardID][]byte{},
	}
	fs := errorfs.Wrap(rec.mem, rec)
	s, err := Open("/store", Options{FS: fs, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.recording = true
	rec.mu.Unlock()

	rng := rand.New(rand.NewPCG(3, 4))
	var held []dsn.ShardID
	heldBytes := map[dsn.ShardID][]byte{}
	ctx := context.Background()
	receive := func(name string, b []byte, sendAs []byte) {
		id := dsn.SumShard(b)
		valid := bytes.Equal(b, sendAs)
		rec.begin(name, &inflightOp{id: id, b: b, valid: valid})
		err := s.ReceiveShard(ctx, id, int64(len(b)), bytes.NewReader(sendAs))
		if valid != (err == nil) {
			t.Fatalf("%s: ReceiveShard = %v", name, err)
		}
		rec.end(func(m map[dsn.ShardID][]byte) {
			if err == nil {
				m[id] = b
			}
		})
		if err == nil && heldBytes[id] == nil {
			held = append(held, id)
			heldBytes[id] = b
		}
	}
	for i := range 24 {
		switch {
		case i%6 == 5 && len(held) > 0:
			k := rng.IntN(len(held))
			id := held[k]
			held = append(held[:k], held[k+1:]...)
			delete(heldBytes, id)
			name := fmt.Sprintf("remove #%d", i)
			rec.begin(name, &inflightOp{id: id, b: rec.acked[id], valid: true})
			if err := s.RemoveShard(ctx, id); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			rec.end(func(m map[dsn.ShardID][]byte) { delete(m, id) })
		case i%8 == 3 && len(held) > 0:
			b := heldBytes[held[rng.IntN(len(held))]]
			receive(fmt.Sprintf("duplicate receive #%d", i), b, b)
		case i%7 == 4:
			b := randShard(byte(i), 1+rng.IntN(20000))
			bad := bytes.Clone(b)
			bad[len(bad)-1] ^= 1
			receive(fmt.Sprintf("corrupt receive #%d", i), b, bad)
		case i == 2:
			receive("empty receive", nil, nil)
		default:
			// Up to 3 pages of 4 KiB blocks and beyond, so partial unsynced
			// data can show up in crash images.
			b := randShard(byte(i), 1+rng.IntN(3*4096+100))
			receive(fmt.Sprintf("receive #%d", i), b, b)
		}
	}
	rec.mu.Lock()
	rec.recording = false
	points := rec.points
	rec.mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(points) < 100 {
		t.Fatalf("only %d crash points recorded; the recorder is not seeing the store's writes", len(points))
	}
	t.Logf("%d crash points", len(points))
	for i, p := range points {
		// For some points, crash again in the middle of recovery and check
		// the image of that second crash: recovery must be restartable.
		if i%7 == 0 {
			checkCrashDuringRecovery(t, p, exactCopy(p.fs), i)
		}
		checkCrashPoint(t, p, p.fs)
	}
}

func checkCrashPoint(t *testing.T, p crashPoint, fs vfs.FS) {
	t.Helper()
	s, err := Open("/store", Options{FS: fs, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("%s: Open = %v", p.name, err)
	}
	defer s.Close()
	listed := map[dsn.ShardID]int64{}
	var ids []dsn.ShardID
	var used int64
	for info, err := range s.Shards(context.Background()) {
		if err != nil {
			t.Fatalf("%s: Shards = %v", p.name, err)
		}
		listed[info.ID] = info.Size
		ids = append(ids, info.ID)
		used += Charge(info.Size)
	}
	for id, b := range p.acked {
		if p.inflight != nil && p.inflight.id == id {
			continue
		}
		if _, ok := listed[id]; !ok {
			t.Fatalf("%s: acknowledged shard %s (%d bytes) lost", p.name, id.Short(), len(b))
		}
	}
	for _, id := range ids {
		want, ok := p.acked[id]
		if !ok {
			if p.inflight == nil || p.inflight.id != id || !p.inflight.valid {
				t.Fatalf("%s: unacknowledged shard %s visible", p.name, id.Short())
			}
			want = p.inflight.b
		}
		if got := readShard(t, s, id); !bytes.Equal(got, want) {
			t.Fatalf("%s: shard %s reads %d bytes that differ from the %d received", p.name, id.Short(), len(got), len(want))
		}
	}
	u := mustUsage(t, s)
	if u.Shards != int64(len(ids)) || u.Used != used {
		t.Fatalf("%s: Usage() = %d shards, %d bytes; listed %d shards, %d bytes", p.name, u.Shards, u.Used, len(ids), used)
	}
	if stray := strayFiles(t, fs, s, ids); len(stray) > 0 {
		t.Fatalf("%s: files left after recovery: %v", p.name, stray)
	}
	b := randShard(0xee, 5000)
	id := mustPut(t, s, b)
	if got := mustUsage(t, s); got.Used != used+Charge(5000) && listed[id] == 0 {
		t.Fatalf("%s: Usage().Used after a new receive = %d, want %d", p.name, got.Used, used+Charge(5000))
	}
}

// exactCopy copies m including unsynced data.
func exactCopy(m *vfs.MemFS) *vfs.MemFS {
	return m.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(0, 0))})
}

// checkCrashDuringRecovery opens base (an image of p), crashes it at its
// k-th write during Open, for a k chosen from seed, and checks the image
// of that second crash.
func checkCrashDuringRecovery(t *testing.T, p crashPoint, base *vfs.MemFS, seed int) {
	t.Helper()
	// Count the writes recovery makes, on a copy. Pebble's background
	// goroutines write too, hence the lock.
	var mu sync.Mutex
	var writes int
	countFS := errorfs.Wrap(exactCopy(base), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			mu.Lock()
			writes++
			mu.Unlock()
		}
		return nil
	}))
	s, err := Open("/store", Options{FS: countFS, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("%s: Open = %v", p.name, err)
	}
	s.Close()
	mu.Lock()
	defer mu.Unlock()
	if writes == 0 {
		t.Fatalf("%s: recovery made no writes; the counter sees nothing", p.name)
	}
	k := 1 + seed%writes
	var n int
	var image *vfs.MemFS
	crashFS := errorfs.Wrap(base, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			mu.Lock()
			defer mu.Unlock()
			if n++; n == k {
				image = base.CrashClone(vfs.CrashCloneCfg{})
			}
		}
		return nil
	}))
	mu.Unlock()
	s, err = Open("/store", Options{FS: crashFS, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("%s: Open = %v", p.name, err)
	}
	s.Close()
	mu.Lock()
	where := fmt.Sprintf("write %d of %d", k, writes)
	if image == nil {
		// Background work differed and the second run wrote less: crash
		// right after recovery instead.
		image = base.CrashClone(vfs.CrashCloneCfg{})
		where = "the end"
	}
	q := p
	q.name = fmt.Sprintf("%s, then crash at %s of recovery", p.name, where)
	checkCrashPoint(t, q, image)
}
