package api

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The api and api.token files a client reads from a repo: what a daemon
// writes is read back; anything else gets an error naming the file, and a
// missing file means no daemon.
func TestReadAPIFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadAddr(dir); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("ReadAddr(no api file) = %v, want ErrNoDaemon", err)
	}
	if _, err := ReadToken(dir); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("ReadToken(no token file) = %v, want ErrNoDaemon", err)
	}
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(AddrFile, "127.0.0.1:5001\n")
	write(TokenFile, "3f9a0c\n")
	if a, err := ReadAddr(dir); err != nil || a != "127.0.0.1:5001" {
		t.Errorf("ReadAddr = %q, %v", a, err)
	}
	if tok, err := ReadToken(dir); err != nil || tok != "3f9a0c" {
		t.Errorf("ReadToken = %q, %v", tok, err)
	}
	for _, bad := range []string{"", "localhost", ":80", "127.0.0.1:", strings.Repeat("1", 2*maxAPIFile)} {
		write(AddrFile, bad)
		if _, err := ReadAddr(dir); err == nil || errors.Is(err, ErrNoDaemon) {
			t.Errorf("ReadAddr(%.20q) = %v, want an error about the file", bad, err)
		}
	}
	for _, bad := range []string{"", "\n", "two words", "tab\there", "line\nbreak", "caf\u00e9", strings.Repeat("a", 2*maxAPIFile)} {
		write(TokenFile, bad)
		if _, err := ReadToken(dir); err == nil || errors.Is(err, ErrNoDaemon) {
			t.Errorf("ReadToken(%.20q) = %v, want an error about the file", bad, err)
		}
	}
}

// FuzzReadAPIFiles checks that any bytes in the api files give an address
// that splits into host and port and a token fit for a header, or an
// error, never a panic.
func FuzzReadAPIFiles(f *testing.F) {
	f.Add([]byte("127.0.0.1:5001\n"))
	f.Add([]byte("[::1]:80"))
	f.Add([]byte("3f9a0c\n"))
	f.Add([]byte{0xff, ':', '1'})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		for _, name := range []string{AddrFile, TokenFile} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if a, err := ReadAddr(dir); err == nil {
			if h, p, err := net.SplitHostPort(a); err != nil || h == "" || p == "" {
				t.Fatalf("ReadAddr accepted %q", a)
			}
		}
		if tok, err := ReadToken(dir); err == nil {
			if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
				t.Fatalf("ReadToken accepted %q", tok)
			}
		}
	})
}
