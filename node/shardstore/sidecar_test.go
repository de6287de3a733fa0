package shardstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/dsn-project/dsn"
)

func TestSidecars(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	s := openT(t, fs, "/store", 0)
	shard := randShard(1, 5000)
	id := mustPut(t, s, shard)
	other := mustPut(t, s, randShard(2, 3000))

	if _, err := s.Sidecar(ctx, id, "tags/a"); !errors.Is(err, ErrSidecarNotFound) {
		t.Fatalf("Sidecar before any put = %v, want ErrSidecarNotFound", err)
	}
	for name, v := range map[string]string{"tags/a": "A1", "tags/b": "B", "outboard": "O"} {
		if err := s.PutSidecar(ctx, id, name, []byte(v)); err != nil {
			t.Fatalf("PutSidecar(%s) = %v", name, err)
		}
	}
	if err := s.PutSidecar(ctx, id, "tags/a", []byte("A2")); err != nil {
		t.Fatalf("PutSidecar replacing = %v", err)
	}
	if err := s.PutSidecar(ctx, other, "outboard", []byte("other")); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store, id dsn.ShardID, name, want string) {
		t.Helper()
		got, err := s.Sidecar(ctx, id, name)
		if err != nil || string(got) != want {
			t.Fatalf("Sidecar(%s, %s) = %q, %v; want %q", id.Short(), name, got, err, want)
		}
	}
	check(s, id, "tags/a", "A2")
	check(s, id, "tags/b", "B")
	check(s, id, "outboard", "O")
	check(s, other, "outboard", "other")

	// Bad input is refused and stores nothing.
	unknown := dsn.SumShard([]byte("not held"))
	if err := s.PutSidecar(ctx, unknown, "outboard", []byte("x")); !errors.Is(err, dsn.ErrShardNotFound) {
		t.Errorf("PutSidecar of a shard not held = %v, want ErrShardNotFound", err)
	}
	if err := s.PutSidecar(ctx, id, "", []byte("x")); err == nil {
		t.Error("PutSidecar with an empty name succeeded")
	}
	if err := s.PutSidecar(ctx, id, strings.Repeat("n", MaxSidecarName+1), []byte("x")); err == nil {
		t.Error("PutSidecar with an overlong name succeeded")
	}
	if err := s.PutSidecar(ctx, id, "big", make([]byte, MaxSidecarSize+1)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("PutSidecar of %d bytes = %v, want a size error", MaxSidecarSize+1, err)
	}
	if _, err := s.Sidecar(ctx, id, "big"); !errors.Is(err, ErrSidecarNotFound) {
		t.Errorf("refused sidecar readable: %v", err)
	}

	// Random reads of the shard, as a prover makes them.
	f, size, err := s.OpenShard(ctx, id)
	if err != nil || size != int64(len(shard)) {
		t.Fatalf("OpenShard = %d, %v; want %d bytes", size, err, len(shard))
	}
	buf := make([]byte, 100)
	if _, err := f.ReadAt(buf, 4000); err != nil || !bytes.Equal(buf, shard[4000:4100]) {
		t.Fatalf("ReadAt(4000) = %v, wrong bytes or error", err)
	}
	if _, err := f.ReadAt(buf, 4950); err != io.EOF {
		t.Fatalf("ReadAt past the end = %v, want io.EOF", err)
	}
	f.Close()

	// Sidecars survive a reopen and go with their shard.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, fs, "/store", 0)
	check(s, id, "tags/a", "A2")
	if err := s.RemoveShard(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sidecar(ctx, id, "tags/a"); !errors.Is(err, dsn.ErrShardNotFound) {
		t.Errorf("Sidecar after RemoveShard = %v, want ErrShardNotFound", err)
	}
	// Received again, the shard starts with no sidecars: stale proof
	// material must not come back with it.
	mustPut(t, s, shard)
	for _, name := range []string{"tags/a", "tags/b", "outboard"} {
		if _, err := s.Sidecar(ctx, id, name); !errors.Is(err, ErrSidecarNotFound) {
			t.Errorf("Sidecar(%s) of a re-received shard = %v, want ErrSidecarNotFound", name, err)
		}
	}
	check(s, other, "outboard", "other")
	s.Close()
}

// A shard whose file is lost is dropped from the index at Open; its
// sidecars must go too.
func TestRecoverDropsSidecarsOfLostShards(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	s := openT(t, fs, "/store", 0)
	lost := mustPut(t, s, randShard(1, 3000))
	kept := mustPut(t, s, randShard(2, 3000))
	for _, id := range []dsn.ShardID{lost, kept} {
		if err := s.PutSidecar(ctx, id, "outboard", []byte(id.Short())); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(s.shardPath(lost)); err != nil {
		t.Fatal(err)
	}
	s = openT(t, fs, "/store", 0)
	defer s.Close()
	s.dbMu.RLock()
	_, closer, err := s.db.Get(sidecarKey(lost, "outboard"))
	s.dbMu.RUnlock()
	if err == nil {
		closer.Close()
		t.Errorf("sidecar of the lost shard %s still in the index", lost.Short())
	}
	if got, err := s.Sidecar(ctx, kept, "outboard"); err != nil || string(got) != kept.Short() {
		t.Errorf("sidecar of the kept shard = %q, %v", got, err)
	}
}
