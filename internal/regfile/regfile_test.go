package regfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestOpenRegular(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, size, err := Open(p)
	if err != nil || size != 5 {
		t.Fatalf("Open(regular file) = %d, %v; want 5, nil", size, err)
	}
	defer f.Close()
	b := make([]byte, 5)
	if _, err := f.Read(b); err != nil || string(b) != "hello" {
		t.Fatalf("Read = %q, %v", b, err)
	}
}

func TestOpenRefusesDirectories(t *testing.T) {
	if _, _, err := Open(t.TempDir()); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Open(directory) = %v, want ErrNotRegular", err)
	}
}

// A FIFO with no writer is refused at once; os.Open would block until a
// writer came.
func TestOpenRefusesFIFOWithoutBlocking(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no FIFOs")
	}
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := Open(p)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Open(FIFO) = %v, want ErrNotRegular", err)
		}
	case <-time.After(10 * time.Second):
		// Unblock the open so the test can end, then fail.
		if w, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("Open(FIFO with no writer) still blocked after 10 s")
	}
}
