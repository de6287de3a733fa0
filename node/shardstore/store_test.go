package shardstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/shardstore/storetest"
)

// quietLogger discards logs; logBuffer keeps them for assertions.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func openT(t *testing.T, fs vfs.FS, dir string, capacity int64) *Store {
	t.Helper()
	s, err := Open(dir, Options{FS: fs, Capacity: capacity, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	return s
}

func TestConformanceMemFS(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dsn.ShardStore {
		fs := vfs.NewMem()
		// Runs after the suite has closed the store: whatever the test did,
		// no temp file may be left behind.
		t.Cleanup(func() {
			if names, err := fs.List("/store/tmp"); err != nil || len(names) > 0 {
				t.Errorf("temp files left: %v, %v", names, err)
			}
		})
		return openT(t, fs, "/store", storetest.Capacity)
	})
}

func TestConformanceDisk(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dsn.ShardStore {
		return openT(t, nil, t.TempDir(), storetest.Capacity)
	})
}

func TestConformanceUnlimited(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dsn.ShardStore {
		return openT(t, vfs.NewMem(), "/store", 0)
	})
}

func randShard(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed ^ byte(i>>8)
	}
	return b
}

func mustPut(t *testing.T, s *Store, b []byte) dsn.ShardID {
	t.Helper()
	id := dsn.SumShard(b)
	if err := s.ReceiveShard(context.Background(), id, int64(len(b)), bytes.NewReader(b)); err != nil {
		t.Fatalf("ReceiveShard(%d bytes) = %v", len(b), err)
	}
	return id
}

func mustUsage(t *testing.T, s *Store) dsn.Usage {
	t.Helper()
	u, err := s.Usage(context.Background())
	if err != nil {
		t.Fatalf("Usage() = %v", err)
	}
	return u
}

func readShard(t *testing.T, s *Store, id dsn.ShardID) []byte {
	t.Helper()
	rc, _, err := s.FetchShard(context.Background(), id, 0, -1)
	if err != nil {
		t.Fatalf("FetchShard(%s) = %v", id.Short(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read shard %s: %v", id.Short(), err)
	}
	return b
}

func TestReopenKeepsShards(t *testing.T) {
	fs := vfs.NewMem()
	s := openT(t, fs, "/a/b/store", 1<<20)
	var ids []dsn.ShardID
	var shards [][]byte
	for i := range 5 {
		b := randShard(byte(i), 1000*i)
		ids = append(ids, mustPut(t, s, b))
		shards = append(shards, b)
	}
	if err := s.RemoveShard(context.Background(), ids[2]); err != nil {
		t.Fatal(err)
	}
	want := mustUsage(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, fs, "/a/b/store", 1<<20)
	defer s.Close()
	if got := mustUsage(t, s); got != want {
		t.Fatalf("Usage() after reopen = %+v, want %+v", got, want)
	}
	for i, id := range ids {
		if i == 2 {
			if _, err := s.StatShard(context.Background(), id); !errors.Is(err, dsn.ErrShardNotFound) {
				t.Fatalf("StatShard(removed) after reopen = %v, want %v", err, dsn.ErrShardNotFound)
			}
			continue
		}
		if got := readShard(t, s, id); !bytes.Equal(got, shards[i]) {
			t.Fatalf("shard %d after reopen: %d bytes, want its %d stored bytes", i, len(got), len(shards[i]))
		}
	}
}

func TestOpenLockedDir(t *testing.T) {
	fs := vfs.NewMem()
	s := openT(t, fs, "/store", 0)
	defer s.Close()
	if s2, err := Open("/store", Options{FS: fs, Logger: quietLogger()}); err == nil {
		s2.Close()
		t.Fatalf("second Open of an open store = nil error, want a lock error")
	}
}

func TestOpenNegativeCapacity(t *testing.T) {
	if _, err := Open("/store", Options{FS: vfs.NewMem(), Capacity: -1}); err == nil {
		t.Fatalf("Open(capacity -1) = nil error, want an error")
	}
}

// TestRecoverRepairs damages a closed store in every way recovery handles
// and checks that Open puts it right and says so in the log.
func TestRecoverRepairs(t *testing.T) {
	fs := vfs.NewMem()
	s := openT(t, fs, "/store", 0)
	keep := randShard(1, 5000)
	missing := randShard(2, 3000)
	truncated := randShard(3, 4000)
	keepID := mustPut(t, s, keep)
	missingID := mustPut(t, s, missing)
	truncID := mustPut(t, s, truncated)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	write := func(name string, b []byte) {
		t.Helper()
		f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		// vfs.File.Write may modify its argument (MemFS does under -race).
		f.Write(bytes.Clone(b))
		f.Close()
	}
	if err := fs.Remove(s.shardPath(missingID)); err != nil {
		t.Fatal(err)
	}
	write(s.shardPath(truncID), truncated[:100])
	orphan := randShard(4, 700)
	orphanID := dsn.SumShard(orphan)
	write(s.shardPath(orphanID), orphan)
	write("/store/tmp/"+orphanID.String()+".1", orphan[:10])
	write("/store/shards/ab/not-a-shard", []byte("x"))
	write("/store/shards/junk", []byte("x"))
	// A wrong-directory shard file: right name, wrong fan-out.
	misplaced := "/store/shards/00/" + keepID.String()
	if keepID.String()[:2] == "00" {
		misplaced = "/store/shards/01/" + keepID.String()
	}
	write(misplaced, keep)

	var logs logBuffer
	s, err := Open("/store", Options{FS: fs, Logger: logs.logger()})
	if err != nil {
		t.Fatalf("Open(damaged) = %v", err)
	}
	defer s.Close()
	if got, want := mustUsage(t, s), (dsn.Usage{Shards: 1, Used: Charge(5000)}); got != want {
		t.Fatalf("Usage() after repair = %+v, want %+v", got, want)
	}
	if got := readShard(t, s, keepID); !bytes.Equal(got, keep) {
		t.Fatalf("kept shard reads %d bytes, want its 5000", len(got))
	}
	for _, id := range []dsn.ShardID{missingID, truncID, orphanID} {
		if _, err := s.StatShard(context.Background(), id); !errors.Is(err, dsn.ErrShardNotFound) {
			t.Errorf("StatShard(%s) after repair = %v, want %v", id.Short(), err, dsn.ErrShardNotFound)
		}
	}
	if stray := strayFiles(t, fs, s, []dsn.ShardID{keepID}); len(stray) > 0 {
		t.Errorf("files left after repair: %v", stray)
	}
	log := logs.String()
	for _, want := range []string{"missing file", "damaged file", "unacknowledged", "unfinished receives", "stray"} {
		if !strings.Contains(log, want) {
			t.Errorf("repair log lacks %q:\n%s", want, log)
		}
	}
	// The repaired store takes the dropped shards back.
	mustPut(t, s, missing)
	mustPut(t, s, truncated)
	if got, want := mustUsage(t, s), (dsn.Usage{Shards: 3, Used: Charge(5000) + Charge(3000) + Charge(4000)}); got != want {
		t.Fatalf("Usage() after re-adding = %+v, want %+v", got, want)
	}
}

// strayFiles lists everything in tmp/ and shards/ that is not the file of
// one of ids.
func strayFiles(t *testing.T, fs vfs.FS, s *Store, ids []dsn.ShardID) []string {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[s.shardPath(id)] = true
	}
	var stray []string
	tmp, err := fs.List(s.tmpDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tmp {
		stray = append(stray, fs.PathJoin(s.tmpDir, n))
	}
	subs, err := fs.List(s.shardsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		p := fs.PathJoin(s.shardsDir, sub)
		if !isFanoutName(sub) {
			stray = append(stray, p)
			continue
		}
		names, err := fs.List(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if f := fs.PathJoin(p, n); !want[f] {
				stray = append(stray, f)
			}
		}
	}
	slices.Sort(stray)
	return stray
}

func TestUsageRecordCorrected(t *testing.T) {
	fs := vfs.NewMem()
	s := openT(t, fs, "/store", 0)
	mustPut(t, s, randShard(1, 100))
	// Write a wrong usage record behind the store's back.
	if err := s.db.Set(usageKey, usageRecord{Shards: 7, Used: 12345}.encode(), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var logs logBuffer
	s, err := Open("/store", Options{FS: fs, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := mustUsage(t, s), (dsn.Usage{Shards: 1, Used: Charge(100)}); got != want {
		t.Fatalf("Usage() = %+v, want %+v", got, want)
	}
	if !strings.Contains(logs.String(), "usage record corrected") {
		t.Fatalf("log lacks the correction:\n%s", logs.String())
	}
	stored, err := s.readUsage()
	if err != nil || stored != (usageRecord{Shards: 1, Used: Charge(100)}) {
		t.Fatalf("stored usage record = %+v, %v; want the corrected one", stored, err)
	}
}

// TestShardsPaging lists more shards than one page, with a page size
// shrunk so the test stays small.
func TestShardsPaging(t *testing.T) {
	defer func(n int) { shardsPage = n }(shardsPage)
	shardsPage = 3
	s := openT(t, vfs.NewMem(), "/store", 0)
	defer s.Close()
	var want []dsn.ShardID
	for i := range 10 {
		want = append(want, mustPut(t, s, randShard(byte(i), i+1)))
	}
	slices.SortFunc(want, func(a, b dsn.ShardID) int { return bytes.Compare(a[:], b[:]) })
	for _, n := range []int{1, 3, 4, 6, 9} {
		var got []dsn.ShardID
		for info, err := range s.Shards(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, info.ID)
			if len(got) == n {
				break
			}
		}
		if !slices.Equal(got, want[:n]) {
			t.Fatalf("first %d of Shards() with page size 3 differ from the sorted IDs", n)
		}
	}
	var got []dsn.ShardID
	for info, err := range s.Shards(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, info.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Shards() with page size 3 = %d IDs, want the %d sorted IDs", len(got), len(want))
	}
	// The loop body may call back into the store, even remove shards.
	for info, err := range s.Shards(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveShard(context.Background(), info.ID); err != nil {
			t.Fatalf("RemoveShard inside Shards loop = %v", err)
		}
	}
	if u := mustUsage(t, s); u.Shards != 0 || u.Used != 0 {
		t.Fatalf("Usage() after removing everything = %+v", u)
	}
}

// TestCloseDuringReceive closes the store while a receive is still reading
// its source: Close must not wait for the source, and the receive must fail
// with ErrClosed and leave nothing behind.
func TestCloseDuringReceive(t *testing.T) {
	fs := vfs.NewMem()
	s := openT(t, fs, "/store", 1<<20)
	b := randShard(9, 10000)
	id := dsn.SumShard(b)
	started := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		r := io.MultiReader(bytes.NewReader(b[:10]), &gateReader{started: started, release: release, r: bytes.NewReader(b[10:])})
		done <- s.ReceiveShard(context.Background(), id, int64(len(b)), r)
	}()
	<-started
	if err := s.Close(); err != nil {
		t.Fatalf("Close() during a receive = %v", err)
	}
	close(release)
	if err := <-done; !errors.Is(err, dsn.ErrClosed) {
		t.Fatalf("ReceiveShard across Close = %v, want %v", err, dsn.ErrClosed)
	}
	s = openT(t, fs, "/store", 1<<20)
	defer s.Close()
	if u := mustUsage(t, s); u.Shards != 0 {
		t.Fatalf("Usage() after reopen = %+v, want empty", u)
	}
	if stray := strayFiles(t, fs, s, nil); len(stray) > 0 {
		t.Fatalf("files left: %v", stray)
	}
}

type gateReader struct {
	started chan struct{}
	release chan struct{}
	r       io.Reader
	once    sync.Once
}

func (g *gateReader) Read(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.started)
		<-g.release
	})
	return g.r.Read(p)
}

// TestFetchStreams checks that a fetch of a large shard streams from the
// file: the bytes allocated while reading it stay far below its size.
func TestFetchStreams(t *testing.T) {
	s := openT(t, vfs.NewMem(), "/store", 0)
	defer s.Close()
	b := randShard(5, 16<<20)
	id := mustPut(t, s, b)
	buf := make([]byte, 32<<10)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rc, _, err := s.FetchShard(context.Background(), id, 1<<20, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf)
	rc.Close()
	runtime.ReadMemStats(&after)
	if err != nil || got != int64(len(b))-1<<20 {
		t.Fatalf("fetched %d bytes, %v; want %d", got, err, len(b)-1<<20)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("fetching a %d-byte range allocated %d bytes, want under 1 MiB (streamed)", got, alloc)
	}
}

// TestUndecodableEntryRebuiltFromFile damages the index entries of two
// shards: the one whose file still hashes to its ID is kept, the one whose
// file was also damaged is dropped.
func TestUndecodableEntryRebuiltFromFile(t *testing.T) {
	fs := vfs.NewMem()
	s := openT(t, fs, "/store", 0)
	good := randShard(1, 3000)
	bad := randShard(2, 4000)
	goodID, badID := mustPut(t, s, good), mustPut(t, s, bad)
	for _, id := range []dsn.ShardID{goodID, badID} {
		if err := s.db.Set(shardKey(id), []byte{0xff, 0xff}, nil); err != nil {
			t.Fatal(err)
		}
	}
	f, err := fs.OpenReadWrite(s.shardPath(badID), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{'!'}, 10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s.Close()

	s, err = Open("/store", Options{FS: fs, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if size, err := s.StatShard(context.Background(), goodID); err != nil || size != int64(len(good)) {
		t.Errorf("StatShard(good) = %d, %v; want %d", size, err, len(good))
	}
	if _, err := s.StatShard(context.Background(), badID); !errors.Is(err, dsn.ErrShardNotFound) {
		t.Errorf("StatShard(damaged) = %v, want ErrShardNotFound", err)
	}
	if got, want := mustUsage(t, s), (dsn.Usage{Shards: 1, Used: Charge(int64(len(good)))}); got != want {
		t.Errorf("Usage() = %+v, want %+v", got, want)
	}
}

// On a disk, shards are written with O_DIRECT where the file system takes
// it, in whole aligned buffers and an unaligned tail written through the
// page cache; the bytes read back must be the bytes received, whatever
// the size and however the source splits its reads.
func TestDiskDirectWrites(t *testing.T) {
	for _, buffered := range []bool{false, true} {
		t.Run(fmt.Sprintf("buffered=%v", buffered), func(t *testing.T) { testDiskWrites(t, buffered) })
	}
}

func testDiskWrites(t *testing.T, buffered bool) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{Logger: quietLogger(), BufferedWrites: buffered})
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	defer s.Close()
	for i, size := range []int{0, 1, 4095, 4096, 4097, copyBufSize - 1, copyBufSize, copyBufSize + 1, 3*copyBufSize + 5000} {
		shard := randShard(byte(i), size)
		id := dsn.SumShard(shard)
		for _, src := range []struct {
			name string
			r    io.Reader
		}{{"whole", bytes.NewReader(shard)}, {"halves", iotest.HalfReader(bytes.NewReader(shard))}} {
			if err := s.ReceiveShard(ctx, id, int64(size), src.r); err != nil {
				t.Fatalf("ReceiveShard(%d bytes, %s) = %v", size, src.name, err)
			}
			rc, n, err := s.FetchShard(ctx, id, 0, -1)
			if err != nil {
				t.Fatalf("FetchShard(%d bytes) = %v", size, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || n != int64(size) || !bytes.Equal(got, shard) {
				t.Fatalf("FetchShard after ReceiveShard(%d bytes, %s) = %d bytes (size %d), %v; want the bytes received", size, src.name, len(got), n, err)
			}
			checkRanges(t, s, id, shard)
			if err := s.RemoveShard(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !s.directIO.Load() && !buffered {
		t.Logf("the file system of %s refused O_DIRECT: only the buffered path ran", s.dir)
	}
}

// checkRanges fetches ranges of shard id, block-aligned or not, within
// one write buffer or across several, and compares them with the shard's
// bytes, read in pieces of odd sizes.
func checkRanges(t *testing.T, s *Store, id dsn.ShardID, shard []byte) {
	t.Helper()
	size := int64(len(shard))
	for _, r := range [][2]int64{
		{0, -1}, {1, -1}, {4095, -1}, {4096, 256 << 10}, {3, 256<<10 + 5},
		{copyBufSize - 7, copyBufSize + 9}, {size - 256<<10 - 1, 256<<10 + 1}, {size / 2, -1},
	} {
		off, length := r[0], r[1]
		if off < 0 || off > size || (length >= 0 && off+length > size) {
			continue
		}
		want := shard[off:]
		if length >= 0 {
			want = want[:length]
		}
		rc, _, err := s.FetchShard(context.Background(), id, off, length)
		if err != nil {
			t.Fatalf("FetchShard(%d bytes, %d, %d) = %v", size, off, length, err)
		}
		var got bytes.Buffer
		_, err = io.CopyBuffer(&got, struct{ io.Reader }{rc}, make([]byte, 1000))
		rc.Close()
		if err != nil || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("FetchShard(%d bytes, %d, %d) read %d bytes, %v; want the shard's %d bytes there", size, off, length, got.Len(), err, len(want))
		}
	}
}
