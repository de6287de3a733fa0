package directio

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

func TestAllocAligned(t *testing.T) {
	for _, n := range []int{0, 1, Align, 3*Align + 5, 1 << 20} {
		b := Alloc(n)
		if len(b) != n || cap(b) != n {
			t.Errorf("Alloc(%d): len %d cap %d", n, len(b), cap(b))
		}
		if n > 0 && uintptr(unsafe.Pointer(&b[0]))%Align != 0 {
			t.Errorf("Alloc(%d) is not aligned", n)
		}
	}
}

// writeAll writes data to a new file under dir, after prefix, in pieces
// of random sizes, and returns what the file then holds.
func writeAll(t *testing.T, dir string, prefix, data []byte, bufSize int, rng *rand.Rand) []byte {
	t.Helper()
	path := filepath.Join(dir, "out")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(prefix); err != nil {
		t.Fatal(err)
	}
	w := NewWriter(f, bufSize)
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(3*bufSize))
		if got, err := w.Write(rest[:n]); err != nil || got != n {
			t.Fatalf("Write(%d bytes) = %d, %v", n, got, err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The file is usable as an ordinary one afterwards.
	if _, err := f.Write([]byte("!")); err != nil {
		t.Fatalf("write after Close: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestWriterWritesEveryByte(t *testing.T) {
	dirs := []string{t.TempDir()}
	// tmpfs takes O_DIRECT on some kernels and refuses it on others.
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "directio-test-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			dirs = append(dirs, d)
		}
	}
	const bufSize = 4 * Align
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dir := range dirs {
		for _, size := range []int{0, 1, Align - 1, Align, bufSize, bufSize + 1, 3*bufSize + 17, 10 * bufSize} {
			// An aligned start can go direct; on a disk, an unaligned one
			// makes the kernel refuse direct writes (EINVAL), which must
			// fall back to the page cache.
			for _, prefix := range [][]byte{nil, []byte("0123456789"), bytes.Repeat([]byte{7}, Align)} {
				data := make([]byte, size)
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				got := writeAll(t, dir, prefix, data, bufSize, rng)
				want := append(append(append([]byte(nil), prefix...), data...), '!')
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: %d bytes after a prefix of %d: file differs (%d bytes, want %d)", dir, size, len(prefix), len(got), len(want))
				}
			}
		}
	}
}

func TestWriterReportsWriteErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path) // read-only: every write fails
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f, Align)
	data := make([]byte, 8*Align)
	var werr error
	for i := 0; i < 8 && werr == nil; i++ {
		_, werr = w.Write(data[i*Align : (i+1)*Align])
	}
	cerr := w.Close()
	if cerr == nil {
		t.Fatal("Close on a read-only file reported no error")
	}
	if _, err := w.Write(data); err == nil {
		t.Error("Write after Close reported no error")
	}
}
