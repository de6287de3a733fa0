package shardstore

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/dsn-project/dsn"
)

// faultInjector fails operations of one kind on paths matching a pattern,
// while armed.
type faultInjector struct {
	kind    errorfs.OpKind
	pattern string
	armed   atomic.Bool
	hits    atomic.Int64
}

func (f *faultInjector) String() string { return "fault " + f.pattern }

func (f *faultInjector) MaybeError(op errorfs.Op) error {
	if !f.armed.Load() || op.Kind != f.kind {
		return nil
	}
	if ok, _ := filepath.Match(f.pattern, op.Path); !ok {
		return nil
	}
	f.hits.Add(1)
	return errorfs.ErrInjected
}

// TestDiskErrorsReceive injects a disk error at each step of a receive:
// the receive fails with that error, nothing of the shard is kept, no space
// stays reserved, and the store works normally once the disk recovers.
func TestDiskErrorsReceive(t *testing.T) {
	tests := []struct {
		name    string
		kind    errorfs.OpKind
		pattern string
	}{
		{"create temp", errorfs.OpCreate, "/store/tmp/*"},
		{"write temp", errorfs.OpFileWrite, "/store/tmp/*"},
		{"sync temp", errorfs.OpFileSync, "/store/tmp/*"},
		{"rename", errorfs.OpRename, "/store/tmp/*"},
		{"open shard dir", errorfs.OpOpenDir, "/store/shards/??"},
		{"sync shard dir", errorfs.OpFileSync, "/store/shards/??"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inj := &faultInjector{kind: tt.kind, pattern: tt.pattern}
			mem := vfs.NewMem()
			fs := errorfs.Wrap(mem, inj)
			// Room for both shards and 10000 bytes more.
			capacity := Charge(30000) + Charge(60000) + 10000
			s := openT(t, fs, "/store", capacity)
			defer s.Close()
			a := randShard(1, 30000)
			aID := mustPut(t, s, a)

			b := randShard(2, 60000)
			bID := dsn.SumShard(b)
			inj.armed.Store(true)
			err := s.ReceiveShard(context.Background(), bID, int64(len(b)), bytes.NewReader(b))
			inj.armed.Store(false)
			if !errors.Is(err, errorfs.ErrInjected) {
				t.Fatalf("ReceiveShard with failing %s = %v, want %v", tt.name, err, errorfs.ErrInjected)
			}
			if inj.hits.Load() == 0 {
				t.Fatalf("no operation matched %v %s", tt.kind, tt.pattern)
			}
			if _, err := s.StatShard(context.Background(), bID); !errors.Is(err, dsn.ErrShardNotFound) {
				t.Fatalf("StatShard after failed receive = %v, want %v", err, dsn.ErrShardNotFound)
			}
			if got, want := mustUsage(t, s), (dsn.Usage{Shards: 1, Used: Charge(30000), Capacity: capacity}); got != want {
				t.Fatalf("Usage() after failed receive = %+v, want %+v", got, want)
			}
			if stray := strayFiles(t, mem, s, []dsn.ShardID{aID}); len(stray) > 0 {
				t.Fatalf("files left after failed receive: %v", stray)
			}
			// The reservation was released: the same shard fits again, and
			// fills the store to within 10000 bytes of capacity.
			mustPut(t, s, b)
			if got := readShard(t, s, bID); !bytes.Equal(got, b) {
				t.Fatalf("shard received after the fault reads other bytes")
			}
			if got := readShard(t, s, aID); !bytes.Equal(got, a) {
				t.Fatalf("shard received before the fault reads other bytes")
			}
			if got, want := mustUsage(t, s), (dsn.Usage{Shards: 2, Used: Charge(30000) + Charge(60000), Capacity: capacity}); got != want {
				t.Fatalf("Usage() = %+v, want %+v", got, want)
			}
		})
	}
}

// TestDiskErrorsFetch: an unreadable shard file is an error, not "not
// found", and the shard stays indexed.
func TestDiskErrorsFetch(t *testing.T) {
	inj := &faultInjector{kind: errorfs.OpOpen, pattern: "/store/shards/??/*"}
	s := openT(t, errorfs.Wrap(vfs.NewMem(), inj), "/store", 0)
	defer s.Close()
	a := randShard(1, 3000)
	id := mustPut(t, s, a)
	inj.armed.Store(true)
	_, _, err := s.FetchShard(context.Background(), id, 0, -1)
	inj.armed.Store(false)
	if !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("FetchShard with failing open = %v, want %v", err, errorfs.ErrInjected)
	}
	if got := readShard(t, s, id); !bytes.Equal(got, a) {
		t.Fatalf("shard after the fault reads other bytes")
	}
}

// TestDiskErrorsRemove: when the file cannot be deleted, the removal still
// takes effect (index and usage), and the next Open deletes the file.
func TestDiskErrorsRemove(t *testing.T) {
	inj := &faultInjector{kind: errorfs.OpRemove, pattern: "/store/shards/??/*"}
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem, inj)
	s := openT(t, fs, "/store", 0)
	id := mustPut(t, s, randShard(1, 3000))
	inj.armed.Store(true)
	if err := s.RemoveShard(context.Background(), id); err != nil {
		t.Fatalf("RemoveShard with failing file removal = %v, want nil", err)
	}
	inj.armed.Store(false)
	if u := mustUsage(t, s); u.Shards != 0 || u.Used != 0 {
		t.Fatalf("Usage() after removal = %+v, want empty", u)
	}
	if _, err := mem.Stat(s.shardPath(id)); err != nil {
		t.Fatalf("the file whose removal failed is gone already: %v", err)
	}
	s.Close()
	s = openT(t, fs, "/store", 0)
	defer s.Close()
	if stray := strayFiles(t, mem, s, nil); len(stray) > 0 {
		t.Fatalf("files left after reopen: %v", stray)
	}
}

// TestDiskErrorsOpen: a store whose directory cannot be created fails to
// open with the error, rather than half-working.
func TestDiskErrorsOpen(t *testing.T) {
	inj := &faultInjector{kind: errorfs.OpMkdirAll, pattern: "/store/shards*"}
	inj.armed.Store(true)
	if s, err := Open("/store", Options{FS: errorfs.Wrap(vfs.NewMem(), inj), Logger: quietLogger()}); !errors.Is(err, errorfs.ErrInjected) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open with failing mkdir = %v, want %v", err, errorfs.ErrInjected)
	}
}
