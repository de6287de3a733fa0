package atomicfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	for _, b := range [][]byte{[]byte("first, longer content"), []byte("second")} {
		if err := Write(path, b, 0o600); err != nil {
			t.Fatalf("Write(%q) = %v", b, err)
		}
		got, err := ReadBounded(path, 1024)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("ReadBounded after Write(%q) = %q, %v", b, got, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("Stat = %v, %v; want mode 0600", fi, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after two writes, want only the file (no temporaries left)", len(ents))
	}
}

func TestReadBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := Write(path, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadBounded(path, 100); err != nil || len(b) != 100 {
		t.Errorf("ReadBounded(100-byte file, 100) = %d bytes, %v", len(b), err)
	}
	if _, err := ReadBounded(path, 99); err == nil {
		t.Errorf("ReadBounded(100-byte file, 99) = nil error, want one")
	}
	if _, err := ReadBounded(filepath.Join(t.TempDir(), "absent"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadBounded(absent) = %v, want os.ErrNotExist", err)
	}
}
