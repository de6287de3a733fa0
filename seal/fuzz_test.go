package seal

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpenChunk feeds arbitrary bytes to ChunkCipher.Open: it must fail with
// ErrAuth, never panic, and accept only what Seal produced for that index.
func FuzzOpenChunk(f *testing.F) {
	cc := mustCipher(f, mustKey(f, "k"), mustFileID(f, "f"), Default)
	f.Add(cc.Seal(nil, []byte("chunk"), 1), uint64(1))
	f.Add(cc.Seal(nil, nil, 0), uint64(0))
	f.Add([]byte{}, uint64(3))
	f.Fuzz(func(t *testing.T, ct []byte, index uint64) {
		pt, err := cc.Open(nil, ct, index)
		if err != nil {
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("Open error %v does not wrap ErrAuth", err)
			}
			return
		}
		if again := cc.Seal(nil, pt, index); !bytes.Equal(again, ct) {
			t.Fatalf("Open accepted %x at %d, which Seal writes as %x", ct, index, again)
		}
	})
}

// FuzzOpenManifest does the same for sealed manifests.
func FuzzOpenManifest(f *testing.F) {
	key := mustKey(f, "k").ManifestKey()
	sealed, err := SealManifest(key, []byte("manifest"), detRand("n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(sealed[:ManifestOverhead])
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := OpenManifest(key, b)
		if err != nil {
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("OpenManifest error %v does not wrap ErrAuth", err)
			}
			return
		}
		again, err := SealManifest(key, pt, bytes.NewReader(b[:ManifestNonceSize]))
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("OpenManifest accepted %x, which reseals as %x, %v", b, again, err)
		}
	})
}
