package shardstore

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/dsn-project/dsn"
)

// TestIndexLossKeepsShards removes the index (as an operator does with a
// corrupt one, or by restoring only shards/) and reopens: every shard file
// that still hashes to its name must be served again, with the right
// usage, and only a file that does not verify may go.
func TestIndexLossKeepsShards(t *testing.T) {
	for _, tt := range []struct {
		name string
		lose func(fs vfs.FS) error
	}{
		{"index removed", func(fs vfs.FS) error { return fs.RemoveAll("/store/index") }},
		{"index emptied", func(fs vfs.FS) error {
			if err := fs.RemoveAll("/store/index"); err != nil {
				return err
			}
			return fs.MkdirAll("/store/index", 0o755)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			fs := vfs.NewMem()
			withSidecars := Options{FS: fs, Logger: quietLogger(), Sidecars: func(dsn.ShardID, int64) []SidecarBuilder {
				return []SidecarBuilder{&lengthBuilder{}}
			}}
			s, err := Open("/store", withSidecars)
			if err != nil {
				t.Fatal(err)
			}
			shards := map[dsn.ShardID][]byte{}
			var used int64
			for i, n := range []int{0, 1, 5000, 70000, 1 << 20} {
				b := randShard(byte(i), n)
				shards[mustPut(t, s, b)] = b
				used += Charge(int64(n))
			}
			damaged := randShard(9, 3000)
			damagedID := mustPut(t, s, damaged)
			s.Close()
			// Same size, one byte changed: the file no longer hashes to its name.
			damaged[100] ^= 1
			f, err := fs.Create(s.shardPath(damagedID), vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(damaged)
			f.Close()
			if err := tt.lose(fs); err != nil {
				t.Fatal(err)
			}

			var logs logBuffer
			s, err = Open("/store", Options{FS: fs, Logger: logs.logger()})
			if err != nil {
				t.Fatalf("Open(without index) = %v", err)
			}
			for id, b := range shards {
				if got := readShard(t, s, id); !bytes.Equal(got, b) {
					t.Errorf("shard %s reads %d bytes that differ from the %d stored", id.Short(), len(got), len(b))
				}
			}
			n := 0
			for info, err := range s.Shards(ctx) {
				if err != nil {
					t.Fatalf("Shards() yielded %v", err)
				}
				if b, ok := shards[info.ID]; !ok || int64(len(b)) != info.Size {
					t.Errorf("Shards() yielded %s of %d bytes, not a stored shard", info.ID.Short(), info.Size)
				}
				n++
			}
			if n != len(shards) {
				t.Errorf("Shards() lists %d shards, want %d", n, len(shards))
			}
			if got, want := mustUsage(t, s), (dsn.Usage{Shards: int64(len(shards)), Used: used}); got != want {
				t.Errorf("Usage() = %+v, want %+v", got, want)
			}
			if _, err := s.StatShard(ctx, damagedID); !errors.Is(err, dsn.ErrShardNotFound) {
				t.Errorf("StatShard(damaged) = %v, want %v", err, dsn.ErrShardNotFound)
			}
			ids := make([]dsn.ShardID, 0, len(shards))
			for id := range shards {
				ids = append(ids, id)
			}
			if stray := strayFiles(t, fs, s, ids); len(stray) > 0 {
				t.Errorf("files left beside the verified shards: %v", stray)
			}
			log := logs.String()
			if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "reindexed=5") || !strings.Contains(log, "removed_corrupt=1") {
				t.Errorf("log lacks a Warn with 5 shards re-indexed and 1 removed:\n%s", log)
			}
			// The sidecars went with the index; proof code rebuilds them.
			var id dsn.ShardID
			for id = range shards {
				break
			}
			if _, err := s.Sidecar(ctx, id, "length"); !errors.Is(err, ErrSidecarNotFound) {
				t.Errorf("Sidecar(re-indexed shard) = %v, want %v", err, ErrSidecarNotFound)
			}
			if err := s.PutSidecar(ctx, id, "length", []byte("rebuilt")); err != nil {
				t.Errorf("PutSidecar(re-indexed shard) = %v", err)
			}
			s.Close()

			// The rebuilt index is an ordinary one from now on.
			logs = logBuffer{}
			s, err = Open("/store", Options{FS: fs, Logger: logs.logger()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got, want := mustUsage(t, s), (dsn.Usage{Shards: int64(len(shards)), Used: used}); got != want {
				t.Errorf("Usage() after another reopen = %+v, want %+v", got, want)
			}
			if log := logs.String(); strings.Contains(log, "level=WARN") {
				t.Errorf("reopening the rebuilt store warned:\n%s", log)
			}
			if _, err := fs.Stat("/store/REINDEX"); err == nil {
				t.Errorf("re-index marker left after a finished rebuild")
			}
		})
	}
}

// TestReindexResumes fails a read in the middle of a rebuild of the index:
// Open fails and keeps the file, and the next Open, which finds a partly
// built index, goes on rebuilding rather than deleting the files it lacks.
func TestReindexResumes(t *testing.T) {
	mem := vfs.NewMem()
	inj := &faultInjector{kind: errorfs.OpFileRead}
	fs := errorfs.Wrap(mem, inj)
	s := openT(t, fs, "/store", 0)
	shards := map[dsn.ShardID][]byte{}
	var last dsn.ShardID
	for i := range 4 {
		b := randShard(byte(i), 1000*(i+1))
		last = mustPut(t, s, b)
		shards[last] = b
	}
	s.Close()
	if err := mem.RemoveAll("/store/index"); err != nil {
		t.Fatal(err)
	}
	inj.pattern = s.shardPath(last)
	inj.armed.Store(true)
	if s, err := Open("/store", Options{FS: fs, Logger: quietLogger()}); !errors.Is(err, errorfs.ErrInjected) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open with a failing read = %v, want %v", err, errorfs.ErrInjected)
	}
	if inj.hits.Load() == 0 {
		t.Fatalf("no read of %s failed", inj.pattern)
	}
	inj.armed.Store(false)
	s = openT(t, fs, "/store", 0)
	defer s.Close()
	for id, b := range shards {
		if got := readShard(t, s, id); !bytes.Equal(got, b) {
			t.Errorf("shard %s reads %d bytes that differ from the %d stored", id.Short(), len(got), len(b))
		}
	}
	if u := mustUsage(t, s); u.Shards != int64(len(shards)) {
		t.Errorf("Usage() = %+v, want %d shards", u, len(shards))
	}
}
