package p2p

import (
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
)

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo", "identity.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateKey(new) = %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateKey(existing) = %v", err)
	}
	if !k1.Equals(k2) {
		t.Error("LoadOrCreateKey returned a different key the second time")
	}
	id1, _ := peerIDOf(k1)
	id2, _ := peerIDOf(k2)
	if id1 != id2 {
		t.Errorf("peer id changed across loads: %s, %s", PeerIDString(id1), PeerIDString(id2))
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("repo holds %d files after creating the key, want 1 (temporary file left behind?)", len(entries))
	}
}

func TestLoadOrCreateKeyPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.key")
	if _, err := LoadOrCreateKey(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); !errors.Is(err, ErrKeyPermissions) {
		t.Errorf("LoadOrCreateKey(mode 0644) = %v, want ErrKeyPermissions", err)
	}
}

func pemOf(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }

func TestDecodeKeyBad(t *testing.T) {
	good, err := encodeKey(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secp, _ := crypto.MarshalPrivateKey(rsaKey)
	edRaw, _ := crypto.MarshalPrivateKey(newKey(t))
	// Flip a bit in the public half of the key (the last bytes).
	mismatched := append([]byte(nil), edRaw...)
	mismatched[len(mismatched)-1] ^= 1
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no PEM block"},
		{"not PEM", []byte("hello"), "no PEM block"},
		{"wrong type", pemOf("RSA PRIVATE KEY", edRaw), `PEM block is "RSA PRIVATE KEY"`},
		{"trailing data", append(append([]byte(nil), good...), "junk"...), "trailing data"},
		{"two keys", append(append([]byte(nil), good...), good...), "trailing data"},
		{"garbage key", pemOf(keyPEMType, []byte{1, 2, 3}), "malformed"},
		{"secp256k1", pemOf(keyPEMType, secp), "want Ed25519"},
		{"mismatched public key", pemOf(keyPEMType, mismatched), "public key does not match"},
		{"huge", make([]byte, maxKeyFileSize+1), "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := decodeKey(tc.data)
			if !errors.Is(err, ErrBadKeyFile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decodeKey(%.40q) = %v, %v; want ErrBadKeyFile saying %q", tc.data, k, err, tc.want)
			}
		})
	}
	// Through the file API, the error also names the file.
	path := filepath.Join(t.TempDir(), "identity.key")
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); !errors.Is(err, ErrBadKeyFile) || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadOrCreateKey(bad file) = %v, want ErrBadKeyFile naming %s", err, path)
	}
}

// FuzzDecodeKey checks that decodeKey never panics and that whatever it
// accepts encodes back to a file it reads as the same key.
func FuzzDecodeKey(f *testing.F) {
	for range 2 {
		k, _, _ := crypto.GenerateEd25519Key(rand.Reader)
		b, _ := encodeKey(k)
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN DSN IDENTITY KEY-----\n-----END DSN IDENTITY KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := decodeKey(data)
		if err != nil {
			if !errors.Is(err, ErrBadKeyFile) {
				t.Fatalf("decodeKey error %v does not wrap ErrBadKeyFile", err)
			}
			return
		}
		b, err := encodeKey(k)
		if err != nil {
			t.Fatalf("encodeKey(accepted key) = %v", err)
		}
		k2, err := decodeKey(b)
		if err != nil || !k.Equals(k2) {
			t.Fatalf("re-decoding an accepted key = %v, %v", k2, err)
		}
	})
}
