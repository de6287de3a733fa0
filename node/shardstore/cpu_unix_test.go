//go:build unix

package shardstore

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// dropCache evicts the file's pages from the page cache.
func dropCache(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		b.Skipf("cannot drop the page cache: %v", err)
	}
}
