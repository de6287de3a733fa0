package manifest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/seal"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/zeebo/blake3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenBlobs returns the envelopes the golden files hold: the public
// fixture and the private one sealed with testKey and fixed randomness.
func goldenBlobs(t testing.TB) (public, private []byte) {
	t.Helper()
	public, err := Public(testManifest(false))
	if err != nil {
		t.Fatal(err)
	}
	private, err = Seal(testManifest(true), testKey().ManifestKey(), detRand("golden manifest nonce"))
	if err != nil {
		t.Fatal(err)
	}
	return public, private
}

func goldenReferences(public, private []byte) string {
	key := testKey()
	return fmt.Sprintf("public  %s\nprivate %s\n",
		Reference{Manifest: CID(public)},
		Reference{Manifest: CID(private), Key: &key})
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./manifest -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: output differs from the golden file (%d vs %d bytes); if the format change is intended, bump the version and run with -update", name, len(got), len(want))
	}
}

// TestGolden pins the encoding: a change to the bytes of either envelope
// would make stored manifests unreadable.
func TestGolden(t *testing.T) {
	public, private := goldenBlobs(t)
	checkGolden(t, "public.golden", public)
	checkGolden(t, "private.golden", private)
	checkGolden(t, "references.golden", []byte(goldenReferences(public, private)))
}

// TestGoldenOpen reads the stored golden files back, as a newer build would
// read manifests written by an older one.
func TestGoldenOpen(t *testing.T) {
	key := testKey().ManifestKey()
	for name, want := range map[string]*Manifest{
		"public.golden":  testManifest(false),
		"private.golden": testManifest(true),
	} {
		blob, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		k := &key
		if want.Public() {
			k = nil
		}
		got, err := Open(blob, k)
		if err != nil {
			t.Fatalf("Open(%s) = %v", name, err)
		}
		if !equal(got, want) {
			t.Errorf("Open(%s) = %+v, want %+v", name, got, want)
		}
	}
}

func TestOpen(t *testing.T) {
	public, private := goldenBlobs(t)
	key, wrong := testKey().ManifestKey(), seal.Key{1}.ManifestKey()
	fileKey := seal.ManifestKey(testKey())
	m, err := Open(private, &key)
	if err != nil || !equal(m, testManifest(true)) {
		t.Fatalf("Open(private, key) = %+v, %v", m, err)
	}
	if m, err := Open(public, nil); err != nil || !equal(m, testManifest(false)) {
		t.Fatalf("Open(public, nil) = %+v, %v", m, err)
	}
	if _, err := Open(public, &key); err != nil {
		t.Errorf("Open(public, key) = %v, want the key ignored", err)
	}

	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
	set := func(b []byte, i int, v byte) []byte { b = bytes.Clone(b); b[i] = v; return b }
	// A public envelope around a private manifest, and the reverse.
	privBody, _ := testManifest(true).MarshalBinary()
	pubBody, _ := testManifest(false).MarshalBinary()
	sealedPublic, _ := seal.SealManifest(key, pubBody, detRand("n"))
	root := testRoot().Bytes()
	cipherAt := bytes.Index(public, root) + len(root)
	tests := []struct {
		name string
		blob []byte
		key  *seal.ManifestKey
		want error
		msg  string
	}{
		{"no key", private, nil, ErrNoKey, "the reference has no key"},
		{"wrong key", private, &wrong, seal.ErrAuth, "wrong key or corrupted manifest"},
		{"file key instead of manifest key", private, &fileKey, seal.ErrAuth, "wrong key or corrupted manifest"},
		{"flipped bit in sealed body", flip(private, len(private)-40), &key, seal.ErrAuth, "wrong key or corrupted manifest"},
		{"truncated sealed", private[:len(private)-1], &key, seal.ErrAuth, "wrong key"},
		{"sealed body too short", private[:envelopeHeader+10], &key, seal.ErrAuth, "wrong key"},
		// A public body has no tag: the CID protects it (BlobID). Flips that
		// break its structure are caught here.
		{"flipped bit in public body magic", flip(public, envelopeHeader), nil, ErrFormat, "magic"},
		{"public body cipher set", set(public, cipherAt, 1), nil, ErrFormat, "FileID is zero but Cipher is aes-256-gcm"},
		{"public body file id set", flip(public, cipherAt+1), nil, ErrFormat, "FileID 01000000000000000000000000000000 is set"},
		{"truncated public", public[:len(public)-1], nil, ErrFormat, "malformed"},
		{"empty", nil, nil, ErrFormat, "not a manifest envelope"},
		{"header only", public[:envelopeHeader], nil, ErrFormat, "magic"},
		{"bad magic", flip(public, 0), nil, ErrFormat, "not a manifest envelope"},
		{"bare manifest", pubBody, nil, ErrFormat, "not a manifest envelope"},
		{"version 3", set(public, 4, 3), nil, ErrVersion, "envelope version 3"},
		{"version 1", set(public, 4, 1), nil, ErrVersion, "envelope version 1, written before repair capabilities"},
		{"version 0", set(public, 4, 0), nil, ErrVersion, "envelope version 0"},
		{"unknown kind", append([]byte("DSNE\x02\x07"), pubBody...), nil, ErrFormat, "kind 7"},
		{"public envelope, private manifest", envelope(kindPublic, privBody), nil, ErrFormat, "Cipher aes-256-gcm"},
		{"sealed envelope, public manifest", envelope(kindSealed, sealedPublic), &key, ErrFormat, "Cipher none"},
		{"oversized", make([]byte, MaxEnvelopeSize+1), nil, ErrFormat, "more than"},
	}
	for _, tt := range tests {
		m, err := Open(tt.blob, tt.key)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Open = %v, %v, want %v", tt.name, m, err, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: Open error %q does not say %q", tt.name, err, tt.msg)
		}
	}
}

func TestSealAndPublicRefuseWrongKind(t *testing.T) {
	if _, err := Seal(testManifest(false), testKey().ManifestKey(), detRand("x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Seal(public manifest) = %v, want ErrInvalid", err)
	}
	if _, err := Public(testManifest(true)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Public(private manifest) = %v, want ErrInvalid", err)
	}
	bad := testManifest(true)
	bad.K = 0
	if _, err := Seal(bad, testKey().ManifestKey(), detRand("x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Seal(invalid manifest) = %v, want ErrInvalid", err)
	}
}

func TestResealUsesFreshNonce(t *testing.T) {
	m := testManifest(true)
	r := detRand("reseal")
	a, _ := Seal(m, testKey().ManifestKey(), r)
	b, _ := Seal(m, testKey().ManifestKey(), r)
	if bytes.Equal(a, b) || CID(a) == CID(b) {
		t.Error("sealing one manifest twice gave the same envelope")
	}
}

func TestCIDAndBlobID(t *testing.T) {
	public, _ := goldenBlobs(t)
	c := CID(public)
	if c.Version() != 1 || c.Type() != cid.Raw || c.Prefix().MhType != multihash.BLAKE3 {
		t.Fatalf("CID = %s (v%d codec %#x mh %#x), want CIDv1 raw blake3", c, c.Version(), c.Type(), c.Prefix().MhType)
	}
	if !strings.HasPrefix(c.String(), "b") {
		t.Errorf("CID.String() = %s, want base32 (prefix b)", c)
	}
	id, err := BlobID(c)
	if err != nil {
		t.Fatalf("BlobID(%s) = %v", c, err)
	}
	if want := dsn.SumShard(public); id != want {
		t.Errorf("BlobID(CID(blob)) = %s, want SumShard(blob) = %s", id, want)
	}

	sum := blake3.Sum256(public)
	mhB3, _ := multihash.Encode(sum[:], multihash.BLAKE3)
	mhShort, _ := multihash.Encode(sum[:16], multihash.BLAKE3)
	mhSHA, _ := multihash.Sum(public, multihash.SHA2_256, -1)
	for name, c := range map[string]cid.Cid{
		"undefined":   cid.Undef,
		"cidv0":       cid.NewCidV0(mhSHA),
		"sha256":      cid.NewCidV1(cid.Raw, mhSHA),
		"dag-pb":      cid.NewCidV1(cid.DagProtobuf, mhB3),
		"short blake": cid.NewCidV1(cid.Raw, mhShort),
	} {
		if _, err := BlobID(c); !errors.Is(err, ErrCID) {
			t.Errorf("BlobID(%s: %s) = %v, want ErrCID", name, c, err)
		}
	}
}
