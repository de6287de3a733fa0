//go:build unix

package shardstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dsn-project/dsn"
)

// allocated returns the bytes the file system has allocated to the files
// under root (st_blocks, in 512-byte units), which is what fills a disk.
func allocated(t *testing.T, root string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += fi.Sys().(*syscall.Stat_t).Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return total
}

// TestTinyShardsStayWithinCapacity puts 16-byte shards, as any peer may
// without a deal, until the store refuses one. The shard files must then
// take no more of the real disk than the capacity the operator gave: when
// each shard was charged its 16 bytes, 4096 of them took 16 MiB of a
// 64 KiB store.
func TestTinyShardsStayWithinCapacity(t *testing.T) {
	dir := t.TempDir()
	const capacity = 64 << 10
	s := openT(t, nil, dir, capacity)
	defer s.Close()
	var n int64
	var refusal error
	for i := range 1 << 16 { // bounded: far more than could ever fit
		b := make([]byte, 16)
		binary.LittleEndian.PutUint64(b, uint64(i))
		if err := s.ReceiveShard(context.Background(), dsn.SumShard(b), 16, bytes.NewReader(b)); err != nil {
			refusal = err
			break
		}
		n++
	}
	if !errors.Is(refusal, dsn.ErrNoSpace) {
		t.Fatalf("after %d tiny shards the store's refusal is %v, want %v", n, refusal, dsn.ErrNoSpace)
	}
	if n == 0 {
		t.Fatalf("a %d-byte store refused the first 16-byte shard", capacity)
	}
	u := mustUsage(t, s)
	disk := allocated(t, filepath.Join(dir, shardsDirName))
	t.Logf("capacity %d: %d shards held, %d bytes used, shard files take %d bytes", capacity, u.Shards, u.Used, disk)
	if disk > capacity {
		t.Errorf("%d 16-byte shards take %d bytes of disk, above the capacity of %d", n, disk, capacity)
	}
	if u.Shards != n || u.Used > capacity || u.Used < disk {
		t.Errorf("Usage() = %d shards, %d bytes used of %d; want %d shards, used between the %d bytes on disk and the capacity",
			u.Shards, u.Used, capacity, n, disk)
	}
}
