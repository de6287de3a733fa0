package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
)

// detRand returns a deterministic random stream for tests.
func detRand(seed string) io.Reader {
	h := blake3.New()
	h.WriteString(seed)
	return h.Digest()
}

func mustKey(t testing.TB, seed string) Key {
	t.Helper()
	k, err := NewKey(detRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustFileID(t testing.TB, seed string) FileID {
	t.Helper()
	f, err := NewFileID(detRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustCipher(t testing.TB, k Key, f FileID, c Cipher) *ChunkCipher {
	t.Helper()
	cc, err := NewChunkCipher(k, f, c)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

var sealing = []Cipher{AES256GCM, XChaCha20Poly1305}

func TestChunkRoundTrip(t *testing.T) {
	for _, c := range sealing {
		t.Run(c.String(), func(t *testing.T) {
			cc := mustCipher(t, mustKey(t, "k"), mustFileID(t, "f"), c)
			for _, size := range []int{0, 1, 15, 16, 17, 1000, 1 << 16} {
				pt := make([]byte, size)
				detRand(fmt.Sprint(size)).Read(pt)
				idx := uint64(size) * 7
				ct := cc.Seal(nil, pt, idx)
				if len(ct) != size+Overhead {
					t.Fatalf("Seal(%d bytes) gave %d bytes, want %d", size, len(ct), size+Overhead)
				}
				if size > 16 && bytes.Contains(ct, pt[:16]) {
					t.Fatalf("Seal(%d bytes) output contains the plaintext", size)
				}
				got, err := cc.Open(nil, ct, idx)
				if err != nil {
					t.Fatalf("Open(Seal(%d bytes)) = %v", size, err)
				}
				if !bytes.Equal(got, pt) {
					t.Fatalf("Open(Seal(%d bytes)) returned different bytes", size)
				}
			}
		})
	}
}

func TestChunkSealAppendsAndInPlace(t *testing.T) {
	for _, c := range sealing {
		cc := mustCipher(t, mustKey(t, "k"), mustFileID(t, "f"), c)
		pt := []byte("the quick brown fox")
		want := cc.Seal(nil, pt, 3)
		got := cc.Seal([]byte("hdr"), pt, 3)
		if string(got[:3]) != "hdr" || !bytes.Equal(got[3:], want) {
			t.Errorf("%s: Seal(dst=hdr) = %x, want hdr+%x", c, got, want)
		}
		buf := make([]byte, len(pt), len(pt)+Overhead)
		copy(buf, pt)
		inPlace := cc.Seal(buf[:0], buf, 3)
		if !bytes.Equal(inPlace, want) {
			t.Errorf("%s: in-place Seal = %x, want %x", c, inPlace, want)
		}
		opened, err := cc.Open(inPlace[:0], inPlace, 3)
		if err != nil || !bytes.Equal(opened, pt) {
			t.Errorf("%s: in-place Open = %q, %v, want %q", c, opened, err, pt)
		}
	}
}

// TestChunkRejects covers every way a chunk can be presented wrongly.
func TestChunkRejects(t *testing.T) {
	for _, c := range sealing {
		t.Run(c.String(), func(t *testing.T) {
			key, file := mustKey(t, "k"), mustFileID(t, "f")
			cc := mustCipher(t, key, file, c)
			pt := bytes.Repeat([]byte("chunk"), 100)
			ct5 := cc.Seal(nil, pt, 5)
			ct6 := cc.Seal(nil, pt, 6)
			other := func(k Key, f FileID, c Cipher) *ChunkCipher { return mustCipher(t, k, f, c) }
			flipped := bytes.Clone(ct5)
			flipped[len(flipped)/2] ^= 0x01
			flippedTag := bytes.Clone(ct5)
			flippedTag[len(flippedTag)-1] ^= 0x80
			otherCipher := AES256GCM
			if c == AES256GCM {
				otherCipher = XChaCha20Poly1305
			}
			tests := []struct {
				name  string
				cc    *ChunkCipher
				ct    []byte
				index uint64
			}{
				{"wrong key", other(mustKey(t, "k2"), file, c), ct5, 5},
				{"other file same key", other(key, mustFileID(t, "f2"), c), ct5, 5},
				{"other file other key", other(mustKey(t, "k2"), mustFileID(t, "f2"), c), ct5, 5},
				{"other cipher", other(key, file, otherCipher), ct5, 5},
				{"chunk 5 read as 6", cc, ct5, 6},
				{"chunk 6 read as 5", cc, ct6, 5},
				{"flipped bit in body", cc, flipped, 5},
				{"flipped bit in tag", cc, flippedTag, 5},
				{"truncated by one", cc, ct5[:len(ct5)-1], 5},
				{"truncated to tag", cc, ct5[:Overhead], 5},
				{"shorter than tag", cc, ct5[:Overhead-1], 5},
				{"empty", cc, nil, 5},
				{"extended by one", cc, append(bytes.Clone(ct5), 0), 5},
			}
			for _, tt := range tests {
				got, err := tt.cc.Open(nil, tt.ct, tt.index)
				if !errors.Is(err, ErrAuth) {
					t.Errorf("%s: Open = %d bytes, %v, want ErrAuth", tt.name, len(got), err)
					continue
				}
				if want := fmt.Sprintf("chunk %d", tt.index); !strings.Contains(err.Error(), want) {
					t.Errorf("%s: Open error %q does not name %q", tt.name, err, want)
				}
			}
		})
	}
}

// TestChunkSameKeyDifferentFile checks that two files under one key never
// produce the same keystream: were the FileID not in the key, equal
// plaintexts at equal indexes would seal to equal bytes.
func TestChunkSameKeyDifferentFile(t *testing.T) {
	for _, c := range sealing {
		key := mustKey(t, "k")
		a := mustCipher(t, key, mustFileID(t, "a"), c)
		b := mustCipher(t, key, mustFileID(t, "b"), c)
		pt := make([]byte, 64)
		if x, y := a.Seal(nil, pt, 0), b.Seal(nil, pt, 0); bytes.Equal(x[:64], y[:64]) {
			t.Errorf("%s: two files under one key share a keystream", c)
		}
	}
}

func TestNewChunkCipherErrors(t *testing.T) {
	key, file := mustKey(t, "k"), mustFileID(t, "f")
	tests := []struct {
		name string
		file FileID
		c    Cipher
		want error
	}{
		{"none", file, None, ErrCipher},
		{"unknown", file, Cipher(3), ErrCipher},
		{"zero file id", FileID{}, AES256GCM, nil},
	}
	for _, tt := range tests {
		cc, err := NewChunkCipher(key, tt.file, tt.c)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: NewChunkCipher(_, %x, %v) = %v, %v, want error %v", tt.name, tt.file, tt.c, cc, err, tt.want)
		}
	}
}

func TestChunkConcurrent(t *testing.T) {
	cc := mustCipher(t, mustKey(t, "k"), mustFileID(t, "f"), Default)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				idx := uint64(g*1000 + i)
				pt := []byte(fmt.Sprint(idx))
				got, err := cc.Open(nil, cc.Seal(nil, pt, idx), idx)
				if err != nil || !bytes.Equal(got, pt) {
					errs <- fmt.Errorf("chunk %d: %q, %v", idx, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestChunkSealAllocs(t *testing.T) {
	cc := mustCipher(t, mustKey(t, "k"), mustFileID(t, "f"), Default)
	pt := make([]byte, 4096)
	dst := make([]byte, 0, len(pt)+Overhead)
	allocs := testing.AllocsPerRun(100, func() {
		ct := cc.Seal(dst[:0], pt, 1)
		if _, err := cc.Open(pt[:0], ct, 1); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("Seal+Open into buffers with room: %v allocations, want <= 2", allocs)
	}
}

func TestManifestSeal(t *testing.T) {
	key := mustKey(t, "k").ManifestKey()
	pt := []byte("manifest bytes")
	rnd := detRand("nonces")
	a, err := SealManifest(key, pt, rnd)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SealManifest(key, pt, rnd)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(pt)+ManifestOverhead {
		t.Errorf("SealManifest: %d bytes, want %d", len(a), len(pt)+ManifestOverhead)
	}
	if bytes.Equal(a[:ManifestNonceSize], b[:ManifestNonceSize]) || bytes.Equal(a, b) {
		t.Errorf("SealManifest twice under one key reused a nonce")
	}
	for _, s := range [][]byte{a, b} {
		got, err := OpenManifest(key, s)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("OpenManifest(SealManifest(%q)) = %q, %v", pt, got, err)
		}
	}
	// A chunk cipher with the same key must not open a manifest, nor the
	// reverse: the subkeys are separate.
	flipped := bytes.Clone(a)
	flipped[len(flipped)-3] ^= 4
	badNonce := bytes.Clone(a)
	badNonce[0] ^= 1
	for name, tt := range map[string]struct {
		key    ManifestKey
		sealed []byte
	}{
		"wrong key": {mustKey(t, "other").ManifestKey(), a},
		// The file key's own bytes are not the manifest key.
		"file key":      {ManifestKey(mustKey(t, "k")), a},
		"flipped bit":   {key, flipped},
		"flipped nonce": {key, badNonce},
		"truncated":     {key, a[:len(a)-1]},
		"too short":     {key, a[:ManifestOverhead-1]},
		"empty":         {key, nil},
	} {
		if got, err := OpenManifest(tt.key, tt.sealed); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: OpenManifest = %q, %v, want ErrAuth", name, got, err)
		}
	}
}

func TestSealManifestShortRand(t *testing.T) {
	_, err := SealManifest(mustKey(t, "k").ManifestKey(), []byte("x"), bytes.NewReader(make([]byte, 5)))
	if err == nil {
		t.Fatal("SealManifest with a 5-byte random source succeeded")
	}
}

func TestNewKeyAndFileID(t *testing.T) {
	if _, err := NewKey(bytes.NewReader(make([]byte, 40))); err == nil {
		t.Error("NewKey(zeros) succeeded")
	}
	if _, err := NewKey(bytes.NewReader(make([]byte, 3))); err == nil {
		t.Error("NewKey(short) succeeded")
	}
	if _, err := NewFileID(bytes.NewReader(make([]byte, 40))); err == nil {
		t.Error("NewFileID(zeros) succeeded")
	}
	r := detRand("x")
	a, _ := NewKey(r)
	b, _ := NewKey(r)
	if a == b {
		t.Error("NewKey returned the same key twice")
	}
}

func TestCipherNames(t *testing.T) {
	for _, c := range []Cipher{None, AES256GCM, XChaCha20Poly1305} {
		got, err := ParseCipher(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCipher(%q) = %v, %v, want %v", c.String(), got, err, c)
		}
	}
	if got := Cipher(9).String(); got != "cipher(9)" {
		t.Errorf("Cipher(9).String() = %q", got)
	}
	if Cipher(3).Valid() {
		t.Error("Cipher(3).Valid() = true")
	}
	if _, err := ParseCipher("AES"); !errors.Is(err, ErrCipher) {
		t.Errorf("ParseCipher(AES) = %v, want ErrCipher", err)
	}
	// Wire values are part of the manifest format.
	if None != 0 || AES256GCM != 1 || XChaCha20Poly1305 != 2 {
		t.Error("cipher wire values changed")
	}
}

// TestChunkVectors pins the sealed bytes of a fixed input, so that a change
// to key derivation, nonce or associated data cannot go unnoticed: stored
// files would become unreadable.
func TestChunkVectors(t *testing.T) {
	var key Key
	var file FileID
	for i := range key {
		key[i] = byte(i)
	}
	for i := range file {
		file[i] = byte(0xf0 + i)
	}
	want := map[Cipher]string{
		AES256GCM:         "c76148c4c646c79b5ff3d4e38267eaab6850e331dfe9e70544",
		XChaCha20Poly1305: "d856cf297cc515f165cea6ae6409e2a00b4d719ef3170b0df0",
	}
	for c, w := range want {
		got := fmt.Sprintf("%x", mustCipher(t, key, file, c).Seal(nil, []byte("dsn chunk"), 42))
		if got != w {
			t.Errorf("%s: Seal(%q, 42) = %s, want %s", c, "dsn chunk", got, w)
		}
	}
}

// TestChunkMatchesFormat rebuilds a sealed chunk from the primitives exactly as
// docs/formats.md describes them, and compares it with ChunkCipher's output.
func TestChunkMatchesFormat(t *testing.T) {
	key, file := mustKey(t, "k"), mustFileID(t, "f")
	pt := []byte("some chunk bytes")
	const index = 0x0102030405060708
	for _, c := range sealing {
		material := append(append(append([]byte{}, key[:]...), file[:]...), byte(c))
		sub := make([]byte, 32)
		blake3.DeriveKey("dsn 2025 seal chunk key v1", material, sub)
		var aead cipher.AEAD
		var nonce []byte
		switch c {
		case AES256GCM:
			b, _ := aes.NewCipher(sub)
			aead, _ = cipher.NewGCM(b)
			nonce = []byte{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}
		case XChaCha20Poly1305:
			aead, _ = chacha20poly1305.NewX(sub)
			nonce = append(make([]byte, 16), 1, 2, 3, 4, 5, 6, 7, 8)
		}
		ad := append(append([]byte("dsn/seal/chunk/v1"), file[:]...), 1, 2, 3, 4, 5, 6, 7, 8)
		want := aead.Seal(nil, nonce, pt, ad)
		if got := mustCipher(t, key, file, c).Seal(nil, pt, index); !bytes.Equal(got, want) {
			t.Errorf("%s: Seal = %x, want %x (as documented)", c, got, want)
		}
	}
	mk := make([]byte, 32)
	blake3.DeriveKey("dsn 2025 seal manifest capability v1", key[:], mk)
	if got := key.ManifestKey(); !bytes.Equal(got[:], mk) {
		t.Errorf("ManifestKey = %x, want %x (as documented)", got, mk)
	}
	msub := make([]byte, 32)
	blake3.DeriveKey("dsn 2025 seal manifest key v2", mk, msub)
	aead, _ := chacha20poly1305.NewX(msub)
	nonce := bytes.Repeat([]byte{9}, 24)
	want := aead.Seal(bytes.Clone(nonce), nonce, pt, []byte("dsn/seal/manifest/v1"))
	got, err := SealManifest(key.ManifestKey(), pt, bytes.NewReader(nonce))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("SealManifest = %x, %v, want %x (as documented)", got, err, want)
	}
	seed := make([]byte, 32)
	blake3.DeriveKey("dsn 2025 seal updater signing key v1", mk, seed)
	if got, want := key.ManifestKey().UpdaterKey(), ed25519.NewKeyFromSeed(seed); !got.Equal(want) {
		t.Errorf("UpdaterKey = %x, want %x (as documented)", got, want)
	}
}

// TestCapabilities checks that the keys derived from a file key are
// distinct, stable, and differ between files.
func TestCapabilities(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	m1, m2 := k1.ManifestKey(), k2.ManifestKey()
	if m1 == m2 || m1 == ManifestKey(k1) {
		t.Fatal("ManifestKey is equal to its file key or to another file's")
	}
	if m1 != k1.ManifestKey() {
		t.Fatal("ManifestKey is not deterministic")
	}
	u1 := m1.UpdaterKey()
	if !u1.Equal(m1.UpdaterKey()) || u1.Equal(m2.UpdaterKey()) {
		t.Fatal("UpdaterKey is not a deterministic function of the manifest key")
	}
	if bytes.Equal(u1.Seed(), m1[:]) || bytes.Equal(u1.Seed(), k1[:]) {
		t.Fatal("UpdaterKey's seed is a key it was derived from")
	}
	r, err := NewManifestKey(detRand("public"))
	if err != nil || r == (ManifestKey{}) {
		t.Fatalf("NewManifestKey = %x, %v", r, err)
	}
	if _, err := NewManifestKey(bytes.NewReader(make([]byte, 32))); err == nil {
		t.Error("NewManifestKey accepted an all-zero key")
	}
}
