package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
)

// Capacity is the capacity newStore should give its stores. The capacity
// tests fill the store completely, so a smaller one keeps them quick, and
// the largest round-trip shard (4 MiB) must fit.
const Capacity = 16 << 20

// waitLimit bounds every wait in the suite, so a broken store fails the
// test instead of hanging it.
const waitLimit = 20 * time.Second

// Run runs the conformance suite. newStore must return a new, empty store
// each time it is called, with a Capacity of at least 5 MiB (Capacity is a
// good choice); the suite closes the stores it gets. Stores with no
// capacity limit skip the capacity tests. A store that charges shards more
// than their size implements Charger, and the suite expects its charges.
func Run(t *testing.T, newStore func(t *testing.T) dsn.ShardStore) {
	open := func(t *testing.T) dsn.ShardStore {
		t.Helper()
		s := newStore(t)
		t.Cleanup(func() { s.Close() })
		wantUsage(t, s, 0, 0)
		return s
	}
	tests := []struct {
		name string
		f    func(*testing.T, dsn.ShardStore)
	}{
		{"RoundTrip", testRoundTrip},
		{"Ranges", testRanges},
		{"NotFound", testNotFound},
		{"Corrupt", testCorrupt},
		{"Short", testShort},
		{"SizeOutOfRange", testSizeOutOfRange},
		{"ReaderError", testReaderError},
		{"Duplicate", testDuplicate},
		{"ConcurrentSameShard", testConcurrentSameShard},
		{"RemoveAndReadd", testRemoveAndReadd},
		{"Enumerate", testEnumerate},
		{"Concurrent", testConcurrent},
		{"CapacityExact", testCapacityExact},
		{"CapacityConcurrent", testCapacityConcurrent},
		{"CapacityReleasedOnFailure", testCapacityReleasedOnFailure},
		{"Cancel", testCancel},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

// shard returns n pseudo-random bytes determined by seed, and their ID.
func shard(seed uint64, n int) ([]byte, dsn.ShardID) {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24), 0xd5})
	r.Read(b)
	return b, dsn.SumShard(b)
}

func put(t *testing.T, s dsn.ShardStore, b []byte) dsn.ShardID {
	t.Helper()
	id := dsn.SumShard(b)
	if err := s.ReceiveShard(context.Background(), id, int64(len(b)), bytes.NewReader(b)); err != nil {
		t.Fatalf("ReceiveShard(%s, %d bytes) = %v, want nil", id.Short(), len(b), err)
	}
	return id
}

func fetch(t *testing.T, s dsn.ShardStore, id dsn.ShardID, off, length int64) ([]byte, int64) {
	t.Helper()
	rc, size, err := s.FetchShard(context.Background(), id, off, length)
	if err != nil {
		t.Fatalf("FetchShard(%s, %d, %d) = %v, want nil", id.Short(), off, length, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("FetchShard(%s, %d, %d): read: %v", id.Short(), off, length, err)
	}
	return got, size
}

// Charger is implemented by a store that charges a shard more capacity
// than its size (a disk store: whole blocks, an inode, an index entry).
// Charge returns what a shard of size bytes counts in Usage.Used and
// against Capacity. The suite takes a store without it to charge the size.
type Charger interface {
	Charge(size int64) int64
}

// charge is what s counts for a shard of size bytes.
func charge(s dsn.ShardStore, size int64) int64 {
	if c, ok := s.(Charger); ok {
		return c.Charge(size)
	}
	return size
}

// largestFitting returns the largest size in [0, limit] whose charge is at
// most free, or -1 if not even an empty shard fits. Charges grow with
// size, so a binary search finds it.
func largestFitting(s dsn.ShardStore, free, limit int64) int64 {
	if charge(s, 0) > free {
		return -1
	}
	lo, hi := int64(0), limit // charge(lo) <= free
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if charge(s, mid) <= free {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// wantUsage checks Usage against shards held and used, the sum of their
// charges.
func wantUsage(t *testing.T, s dsn.ShardStore, shards, used int64) {
	t.Helper()
	u, err := s.Usage(context.Background())
	if err != nil {
		t.Fatalf("Usage() = %v, want nil", err)
	}
	if u.Shards != shards || u.Used != used {
		t.Fatalf("Usage() = %d shards, %d bytes; want %d shards, %d bytes", u.Shards, u.Used, shards, used)
	}
}

func wantAbsent(t *testing.T, s dsn.ShardStore, id dsn.ShardID) {
	t.Helper()
	if size, err := s.StatShard(context.Background(), id); !errors.Is(err, dsn.ErrShardNotFound) {
		t.Fatalf("StatShard(%s) = %d, %v; want %v", id.Short(), size, err, dsn.ErrShardNotFound)
	}
	if rc, _, err := s.FetchShard(context.Background(), id, 0, -1); !errors.Is(err, dsn.ErrShardNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("FetchShard(%s) = %v, want %v", id.Short(), err, dsn.ErrShardNotFound)
	}
	for info, err := range s.Shards(context.Background()) {
		if err != nil {
			t.Fatalf("Shards() yielded %v", err)
		}
		if info.ID == id {
			t.Fatalf("Shards() lists %s, which should be absent", id.Short())
		}
	}
}

func list(t *testing.T, s dsn.ShardStore) []dsn.ShardInfo {
	t.Helper()
	var out []dsn.ShardInfo
	for info, err := range s.Shards(context.Background()) {
		if err != nil {
			t.Fatalf("Shards() yielded %v", err)
		}
		out = append(out, info)
	}
	return out
}

func testRoundTrip(t *testing.T, s dsn.ShardStore) {
	var used int64
	for i, n := range []int{0, 1, 64<<10 + 3, 4 << 20} {
		b, id := shard(uint64(i), n)
		put(t, s, b)
		used += charge(s, int64(n))
		wantUsage(t, s, int64(i+1), used)
		if size, err := s.StatShard(context.Background(), id); err != nil || size != int64(n) {
			t.Fatalf("StatShard(%d-byte shard) = %d, %v; want %d, nil", n, size, err, n)
		}
		got, size := fetch(t, s, id, 0, -1)
		if size != int64(n) || !bytes.Equal(got, b) {
			t.Fatalf("FetchShard(%d-byte shard) = %d bytes (size %d), want the %d stored bytes", n, len(got), size, n)
		}
	}
}

func testRanges(t *testing.T, s dsn.ShardStore) {
	b, id := shard(7, 1000)
	put(t, s, b)
	valid := []struct{ off, length, want0, want1 int64 }{
		{0, -1, 0, 1000},
		{0, 1000, 0, 1000},
		{10, 20, 10, 30},
		{999, 1, 999, 1000},
		{999, -1, 999, 1000},
		{1000, 0, 1000, 1000},
		{1000, -1, 1000, 1000},
		{0, 0, 0, 0},
		{500, -5, 500, 1000}, // any negative length means "to the end"
	}
	for _, tc := range valid {
		got, size := fetch(t, s, id, tc.off, tc.length)
		if size != 1000 || !bytes.Equal(got, b[tc.want0:tc.want1]) {
			t.Errorf("FetchShard(off %d, length %d) = %d bytes (size %d), want bytes [%d:%d] (size 1000)",
				tc.off, tc.length, len(got), size, tc.want0, tc.want1)
		}
	}
	invalid := []struct{ off, length int64 }{
		{-1, -1}, {-1, 10}, {1001, -1}, {1001, 0}, {0, 1001}, {500, 501}, {999, 2},
		{1, math.MaxInt64}, {math.MaxInt64, 1}, {math.MinInt64, -1},
	}
	for _, tc := range invalid {
		rc, _, err := s.FetchShard(context.Background(), id, tc.off, tc.length)
		if !errors.Is(err, dsn.ErrShardSize) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("FetchShard(off %d, length %d) = %v, want %v", tc.off, tc.length, err, dsn.ErrShardSize)
		}
	}
}

func testNotFound(t *testing.T, s dsn.ShardStore) {
	_, id := shard(1, 10)
	wantAbsent(t, s, id)
	if err := s.RemoveShard(context.Background(), id); !errors.Is(err, dsn.ErrShardNotFound) {
		t.Fatalf("RemoveShard(absent) = %v, want %v", err, dsn.ErrShardNotFound)
	}
	if got := list(t, s); len(got) != 0 {
		t.Fatalf("Shards() of an empty store = %d shards, want 0", len(got))
	}
}

// failedReceive checks that a receive failed with want and left nothing.
func failedReceive(t *testing.T, s dsn.ShardStore, id dsn.ShardID, size int64, r io.Reader, want error) {
	t.Helper()
	before, err := s.Usage(context.Background())
	if err != nil {
		t.Fatalf("Usage() = %v", err)
	}
	err = s.ReceiveShard(context.Background(), id, size, r)
	if !errors.Is(err, want) {
		t.Fatalf("ReceiveShard(%s, %d) = %v, want %v", id.Short(), size, err, want)
	}
	wantAbsent(t, s, id)
	wantUsage(t, s, before.Shards, before.Used)
}

func testCorrupt(t *testing.T, s dsn.ShardStore) {
	put(t, s, []byte("a shard that stays"))
	for _, n := range []int{1, 5000, 1 << 20} {
		b, id := shard(uint64(n), n)
		bad := slices.Clone(b)
		bad[n/2] ^= 1
		failedReceive(t, s, id, int64(n), bytes.NewReader(bad), dsn.ErrCorruptShard)
	}
	// An empty reader offered as a non-empty shard's bytes, claimed empty.
	_, id := shard(3, 10)
	failedReceive(t, s, id, 0, bytes.NewReader(nil), dsn.ErrCorruptShard)
}

func testShort(t *testing.T, s dsn.ShardStore) {
	b, id := shard(4, 100<<10)
	for _, n := range []int{0, 1, len(b) - 1} {
		failedReceive(t, s, id, int64(len(b)), bytes.NewReader(b[:n]), dsn.ErrShardSize)
	}
}

func testSizeOutOfRange(t *testing.T, s dsn.ShardStore) {
	_, id := shard(5, 10)
	for _, size := range []int64{-1, math.MinInt64, dsn.MaxShardSize + 1, math.MaxInt64} {
		failedReceive(t, s, id, size, neverRead{t}, dsn.ErrShardSize)
	}
}

// neverRead fails the test if the store reads from it.
type neverRead struct{ t *testing.T }

func (r neverRead) Read([]byte) (int, error) {
	r.t.Error("store read from a source it should have rejected before reading")
	return 0, io.EOF
}

var errSource = errors.New("source failed")

// failingReader yields n bytes of b and then err.
type failingReader struct {
	b   []byte
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func testReaderError(t *testing.T, s dsn.ShardStore) {
	b, id := shard(6, 3<<20)
	for _, n := range []int{0, 1, 2 << 20, len(b) - 1} {
		failedReceive(t, s, id, int64(len(b)), &failingReader{b: b[:n], err: errSource}, errSource)
	}
	// The store still takes the shard afterwards.
	put(t, s, b)
	wantUsage(t, s, 1, charge(s, int64(len(b))))
}

func testDuplicate(t *testing.T, s dsn.ShardStore) {
	b, id := shard(8, 5000)
	put(t, s, b)
	put(t, s, b)
	wantUsage(t, s, 1, charge(s, 5000))
	// A held shard offered with another size cannot be the same bytes.
	if err := s.ReceiveShard(context.Background(), id, 4999, bytes.NewReader(b[:4999])); !errors.Is(err, dsn.ErrShardSize) {
		t.Fatalf("ReceiveShard(held shard, wrong size) = %v, want %v", err, dsn.ErrShardSize)
	}
	wantUsage(t, s, 1, charge(s, 5000))
	if got, _ := fetch(t, s, id, 0, -1); !bytes.Equal(got, b) {
		t.Fatalf("FetchShard after duplicate receive returned other bytes")
	}
}

func testConcurrentSameShard(t *testing.T, s dsn.ShardStore) {
	b, id := shard(9, 256<<10)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.ReceiveShard(context.Background(), id, int64(len(b)), bytes.NewReader(b))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent ReceiveShard #%d of one shard = %v, want nil", i, err)
		}
	}
	wantUsage(t, s, 1, charge(s, int64(len(b))))
	if got, _ := fetch(t, s, id, 0, -1); !bytes.Equal(got, b) {
		t.Fatalf("FetchShard after concurrent receives returned other bytes")
	}
}

func testRemoveAndReadd(t *testing.T, s dsn.ShardStore) {
	b1, id1 := shard(10, 3000)
	b2, id2 := shard(11, 7000)
	put(t, s, b1)
	put(t, s, b2)
	wantUsage(t, s, 2, charge(s, 3000)+charge(s, 7000))
	if err := s.RemoveShard(context.Background(), id1); err != nil {
		t.Fatalf("RemoveShard = %v, want nil", err)
	}
	wantUsage(t, s, 1, charge(s, 7000))
	wantAbsent(t, s, id1)
	if err := s.RemoveShard(context.Background(), id1); !errors.Is(err, dsn.ErrShardNotFound) {
		t.Fatalf("RemoveShard twice = %v, want %v", err, dsn.ErrShardNotFound)
	}
	wantUsage(t, s, 1, charge(s, 7000))
	put(t, s, b1)
	wantUsage(t, s, 2, charge(s, 3000)+charge(s, 7000))
	if got, _ := fetch(t, s, id1, 0, -1); !bytes.Equal(got, b1) {
		t.Fatalf("FetchShard after re-add returned other bytes")
	}
	if got, _ := fetch(t, s, id2, 0, -1); !bytes.Equal(got, b2) {
		t.Fatalf("FetchShard of the other shard returned other bytes")
	}
	for _, id := range []dsn.ShardID{id1, id2} {
		if err := s.RemoveShard(context.Background(), id); err != nil {
			t.Fatalf("RemoveShard = %v, want nil", err)
		}
	}
	wantUsage(t, s, 0, 0)
}

func testEnumerate(t *testing.T, s dsn.ShardStore) {
	want := map[dsn.ShardID]int64{}
	var used int64
	for i := range 40 {
		b, id := shard(uint64(100+i), i*37)
		put(t, s, b)
		want[id] = int64(len(b))
		used += charge(s, int64(len(b)))
	}
	wantUsage(t, s, int64(len(want)), used)
	got := list(t, s)
	if len(got) != len(want) {
		t.Fatalf("Shards() = %d shards, want %d", len(got), len(want))
	}
	for i, info := range got {
		if size, ok := want[info.ID]; !ok || size != info.Size {
			t.Fatalf("Shards() yielded %s size %d; want a stored shard with its size (%d, stored %v)", info.ID.Short(), info.Size, size, ok)
		}
		if i > 0 && bytes.Compare(got[i-1].ID[:], info.ID[:]) >= 0 {
			t.Fatalf("Shards() yielded %s after %s, want ascending ID order", info.ID.Short(), got[i-1].ID.Short())
		}
	}
	// Stopping early is allowed and stops the sequence.
	n := 0
	for range s.Shards(context.Background()) {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatalf("Shards() with break after 3 ran %d iterations", n)
	}
	// Remove every other shard: the listing follows.
	for i, info := range got {
		if i%2 == 0 {
			if err := s.RemoveShard(context.Background(), info.ID); err != nil {
				t.Fatalf("RemoveShard = %v", err)
			}
			delete(want, info.ID)
			used -= charge(s, info.Size)
		}
	}
	wantUsage(t, s, int64(len(want)), used)
	got = list(t, s)
	if len(got) != len(want) {
		t.Fatalf("Shards() after removals = %d shards, want %d", len(got), len(want))
	}
	for _, info := range got {
		if _, ok := want[info.ID]; !ok {
			t.Fatalf("Shards() after removals yielded removed shard %s", info.ID.Short())
		}
	}
}

// testConcurrent mixes receives, fetches and removes of distinct shards;
// run with -race it checks the store's locking.
func testConcurrent(t *testing.T, s dsn.ShardStore) {
	const workers, each = 4, 6
	var wg sync.WaitGroup
	var kept atomic.Int64
	var keptBytes atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				b, id := shard(uint64(1000+w*each+i), 1000+w*100+i)
				if err := s.ReceiveShard(context.Background(), id, int64(len(b)), bytes.NewReader(b)); err != nil {
					t.Errorf("ReceiveShard = %v", err)
					return
				}
				rc, _, err := s.FetchShard(context.Background(), id, 0, -1)
				if err != nil {
					t.Errorf("FetchShard = %v", err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, b) {
					t.Errorf("FetchShard read %d bytes, %v; want the %d stored bytes", len(got), err, len(b))
				}
				if i%2 == 1 {
					if err := s.RemoveShard(context.Background(), id); err != nil {
						t.Errorf("RemoveShard = %v", err)
					}
					continue
				}
				kept.Add(1)
				keptBytes.Add(charge(s, int64(len(b))))
			}
		})
	}
	wg.Wait()
	wantUsage(t, s, kept.Load(), keptBytes.Load())
	if got := list(t, s); int64(len(got)) != kept.Load() {
		t.Fatalf("Shards() = %d shards, want %d", len(got), kept.Load())
	}
}

func capacityOf(t *testing.T, s dsn.ShardStore) int64 {
	t.Helper()
	u, err := s.Usage(context.Background())
	if err != nil {
		t.Fatalf("Usage() = %v", err)
	}
	if u.Capacity == 0 {
		t.Skip("store has no capacity limit")
	}
	if u.Capacity < 5<<20 {
		t.Fatalf("store capacity %d below the suite's minimum of 5 MiB", u.Capacity)
	}
	return u.Capacity
}

func testCapacityExact(t *testing.T, s dsn.ShardStore) {
	capacity := capacityOf(t, s)
	var used, n int64
	// Fill the store with the largest shards (below 4 MiB) that fit.
	for seed := uint64(200); ; seed++ {
		size := largestFitting(s, capacity-used, 4<<20-1)
		if size < 1 {
			break
		}
		b, _ := shard(seed, int(size))
		put(t, s, b)
		used += charge(s, size)
		n++
		wantUsage(t, s, n, used)
	}
	_, id := shard(300, 1)
	failedReceive(t, s, id, 1, neverRead{t}, dsn.ErrNoSpace)
	// An empty shard still fits in a store whose free space covers its
	// charge (all of a store that charges the size only).
	if charge(s, 0) <= capacity-used {
		put(t, s, nil)
		used += charge(s, 0)
		n++
	}
	wantUsage(t, s, n, used)
	// Freeing space makes room again, to the byte.
	first := list(t, s)[0]
	if first.Size == 0 {
		first = list(t, s)[1]
	}
	if err := s.RemoveShard(context.Background(), first.ID); err != nil {
		t.Fatalf("RemoveShard = %v", err)
	}
	used -= charge(s, first.Size)
	wantUsage(t, s, n-1, used)
	fits := largestFitting(s, capacity-used, dsn.MaxShardSize)
	if fits < first.Size {
		t.Fatalf("after removing a %d-byte shard, the largest shard that fits has %d bytes", first.Size, fits)
	}
	_, id = shard(301, int(fits)+1)
	failedReceive(t, s, id, fits+1, neverRead{t}, dsn.ErrNoSpace)
	b, _ := shard(302, int(fits))
	put(t, s, b)
	used += charge(s, fits)
	wantUsage(t, s, n, used)
	if free := capacity - used; free >= charge(s, 1) {
		t.Fatalf("%d bytes free after filling the store, enough for another shard", free)
	}
}

// blockingReader signals when first read, then blocks until release is
// closed, then serves b.
type blockingReader struct {
	started func()
	release <-chan struct{}
	r       io.Reader
	once    sync.Once
}

func (r *blockingReader) Read(p []byte) (int, error) {
	r.once.Do(func() {
		r.started()
		<-r.release
	})
	return r.r.Read(p)
}

// testCapacityConcurrent starts more receives than fit, all at once, and
// holds every one that got past its reservation in the middle of reading.
// Exactly as many as fit must succeed, the rest fail with ErrNoSpace: a
// store that checked only committed usage would let them all through.
func testCapacityConcurrent(t *testing.T, s dsn.ShardStore) {
	capacity := capacityOf(t, s)
	const workers = 12
	size := capacity / 5
	fit := int(capacity / charge(s, size))
	release := make(chan struct{})
	settled := make(chan int, workers) // one per worker: reading or returned
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		b, id := shard(uint64(400+w), int(size))
		var once sync.Once
		settle := func() { once.Do(func() { settled <- w }) }
		r := &blockingReader{started: settle, release: release, r: bytes.NewReader(b)}
		wg.Go(func() {
			errs[w] = s.ReceiveShard(context.Background(), id, size, r)
			settle()
		})
	}
	deadline := time.After(waitLimit)
	for range workers {
		select {
		case <-settled:
		case <-deadline:
			close(release)
			t.Fatalf("receives neither started reading nor returned within %v", waitLimit)
		}
	}
	close(release)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, dsn.ErrNoSpace):
			t.Errorf("ReceiveShard #%d = %v, want nil or %v", i, err, dsn.ErrNoSpace)
		}
	}
	if ok != fit {
		t.Errorf("%d concurrent receives of %d bytes into %d: %d succeeded, want %d", workers, size, capacity, ok, fit)
	}
	wantUsage(t, s, int64(ok), int64(ok)*charge(s, size))
}

// testCapacityReleasedOnFailure checks that failed receives give their
// reservation back: a store that leaked it would soon refuse everything.
func testCapacityReleasedOnFailure(t *testing.T, s dsn.ShardStore) {
	capacity := capacityOf(t, s)
	size := capacity / 2
	b, id := shard(500, int(size))
	bad := slices.Clone(b)
	bad[0] ^= 0xff
	for range 3 {
		failedReceive(t, s, id, size, bytes.NewReader(bad), dsn.ErrCorruptShard)
		failedReceive(t, s, id, size, bytes.NewReader(b[:size-1]), dsn.ErrShardSize)
	}
	put(t, s, b)
	size2 := largestFitting(s, capacity-charge(s, size), dsn.MaxShardSize)
	b2, _ := shard(501, int(size2))
	put(t, s, b2)
	wantUsage(t, s, 2, charge(s, size)+charge(s, size2))
}

// cancelReader cancels its context after serving the first chunk.
type cancelReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (r *cancelReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p[:min(len(p), 4096)])
	r.cancel()
	return n, err
}

func testCancel(t *testing.T, s dsn.ShardStore) {
	b, id := shard(600, 4<<20)
	put(t, s, []byte("already here"))
	held := dsn.SumShard([]byte("already here"))

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.ReceiveShard(canceled, id, int64(len(b)), bytes.NewReader(b)); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReceiveShard(canceled ctx) = %v, want %v", err, context.Canceled)
	}
	wantAbsent(t, s, id)
	wantUsage(t, s, 1, charge(s, 12))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.ReceiveShard(ctx, id, int64(len(b)), &cancelReader{r: bytes.NewReader(b), cancel: cancel}); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReceiveShard(ctx canceled mid-stream) = %v, want %v", err, context.Canceled)
	}
	wantAbsent(t, s, id)
	wantUsage(t, s, 1, charge(s, 12))

	if _, _, err := s.FetchShard(canceled, held, 0, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("FetchShard(canceled ctx) = %v, want %v", err, context.Canceled)
	}
	if _, err := s.StatShard(canceled, held); !errors.Is(err, context.Canceled) {
		t.Errorf("StatShard(canceled ctx) = %v, want %v", err, context.Canceled)
	}
	if err := s.RemoveShard(canceled, held); !errors.Is(err, context.Canceled) {
		t.Errorf("RemoveShard(canceled ctx) = %v, want %v", err, context.Canceled)
	}
	if _, err := s.Usage(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("Usage(canceled ctx) = %v, want %v", err, context.Canceled)
	}
	var lastErr error
	for _, err := range s.Shards(canceled) {
		lastErr = err
	}
	if !errors.Is(lastErr, context.Canceled) {
		t.Errorf("Shards(canceled ctx) ended with %v, want %v", lastErr, context.Canceled)
	}
	// Nothing above removed the shard.
	wantUsage(t, s, 1, charge(s, 12))
}

func testClosed(t *testing.T, s dsn.ShardStore) {
	b, id := shard(700, 100)
	put(t, s, b)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close() = %v, want nil", err)
	}
	ctx := context.Background()
	b2, id2 := shard(701, 100)
	checks := []struct {
		op  string
		err error
	}{
		{"ReceiveShard(new)", s.ReceiveShard(ctx, id2, 100, bytes.NewReader(b2))},
		{"ReceiveShard(held)", s.ReceiveShard(ctx, id, 100, bytes.NewReader(b))},
		{"FetchShard", func() error { _, _, err := s.FetchShard(ctx, id, 0, -1); return err }()},
		{"StatShard", func() error { _, err := s.StatShard(ctx, id); return err }()},
		{"RemoveShard", s.RemoveShard(ctx, id)},
		{"Usage", func() error { _, err := s.Usage(ctx); return err }()},
		{"Shards", func() error {
			for _, err := range s.Shards(ctx) {
				if err != nil {
					return err
				}
			}
			return fmt.Errorf("Shards() after Close yielded no error")
		}()},
	}
	for _, c := range checks {
		if !errors.Is(c.err, dsn.ErrClosed) {
			t.Errorf("%s after Close = %v, want %v", c.op, c.err, dsn.ErrClosed)
		}
	}
}
