package owned

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/zeebo/blake3"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/erasure"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/seal"
)

func testCID(s string) cid.Cid {
	sum := blake3.Sum256([]byte(s))
	mh, _ := multihash.Encode(sum[:], multihash.BLAKE3)
	return cid.NewCidV1(cid.Raw, mh)
}

// testFile returns a valid two-segment, 4+2 file record named by name.
func testFile(name string) File {
	m := &manifest.Manifest{
		Size: 3<<20 + 100, Chunker: "size-1048576", ChunkSize: 1 << 20, K: 4, M: 2,
		Root: testCID("root " + name), Cipher: seal.AES256GCM,
	}
	copy(m.FileID[:], name+" file id")
	copy(m.Updater[:], name+" updater key")
	m.SegmentSize = 2 * m.StoredChunkSize()
	for i := range erasure.Segments(m.StoredSize(), m.SegmentSize) {
		var s manifest.Segment
		for j := range m.K + m.M {
			s.Shards = append(s.Shards, manifest.Shard{
				ID:       dsn.SumShard(fmt.Appendf(nil, "%s %d %d", name, i, j)),
				Provider: dsn.PeerID(fmt.Sprintf("provider-%d", j)),
			})
		}
		m.Segments = append(m.Segments, s)
	}
	key := seal.Key{1, 2, 3}
	return File{Reference: manifest.Reference{Manifest: testCID("manifest " + name), Key: &key}, Manifest: m, Stored: time.Unix(1700000000, 0)}
}

func openT(t *testing.T, dir string) *DB {
	t.Helper()
	d, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFilesAndAudits(t *testing.T) {
	dir := t.TempDir()
	d := openT(t, dir)
	a, b := testFile("a"), testFile("b")
	for _, f := range []File{a, b} {
		if err := d.Add(f); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	got, err := d.Get(a.Reference.Manifest)
	if err != nil || got.Reference.String() != a.Reference.String() || len(got.Manifest.Segments) != len(a.Manifest.Segments) || !got.Stored.Equal(a.Stored) {
		t.Fatalf("Get(a) = %+v, %v; want the record added", got, err)
	}
	if _, err := d.Get(testCID("never stored")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an unknown file = %v, want ErrNotFound", err)
	}

	at := time.Unix(1700000100, 0)
	record := func(c cid.Cid, seg, shard int, p string, o Outcome) {
		t.Helper()
		if err := d.RecordAudit(c, seg, shard, Audit{Epoch: 1, Time: at, Scheme: "compact", Provider: dsn.PeerID(p), Outcome: o, Latency: time.Millisecond, ProofBytes: 6433}); err != nil {
			t.Fatalf("RecordAudit: %v", err)
		}
	}
	c := a.Reference.Manifest
	record(c, 0, 1, "p1", Pass)
	record(c, 0, 1, "p1", Pass)
	record(c, 0, 1, "p1", Fail)
	record(c, 1, 0, "p2", Missed)
	record(c, 0, 0, "p0", Pass)
	// The other file's audits stay apart.
	record(b.Reference.Manifest, 0, 0, "p0", Fail)

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openT(t, dir)
	defer d.Close()
	h, err := d.Health(c)
	if err != nil {
		t.Fatalf("Health: %v", err)
	}
	want := "0/0 p0 1-0-0 pass; 0/1 p1 2-1-0 fail; 1/0 p2 0-0-1 missed"
	if got := healthString(h); got != want {
		t.Errorf("Health(a) after reopen = %q, want %q", got, want)
	}
	if h, _ := d.Health(b.Reference.Manifest); healthString(h) != "0/0 p0 0-1-0 fail" {
		t.Errorf("Health(b) = %q", healthString(h))
	}

	// Peer IDs are binary: they survive the record whatever their bytes.
	binary := dsn.PeerID("\x00$\x08\x01\x12 \xff\xfe binary id")
	record(c, 2, 0, string(binary), Pass)
	if h, _ := d.Health(c); h[len(h)-1].Last.Provider != binary {
		t.Errorf("binary provider ID read back as %q, want %q", h[len(h)-1].Last.Provider, binary)
	}

	// A new provider for a shard starts a clean history.
	record(c, 0, 1, "p9", Pass)
	if h, _ := d.Health(c); !strings.Contains(healthString(h), "0/1 p9 1-0-0 pass") {
		t.Errorf("Health after a provider change = %q, want a fresh count for p9", healthString(h))
	}
	if err := d.RecordAudit(c, 0, 0, Audit{Outcome: "maybe"}); err == nil {
		t.Error("RecordAudit with an unknown outcome succeeded")
	}

	files, err := d.Files(nil)
	if err != nil || len(files) != 2 {
		t.Fatalf("Files = %d files, %v; want 2", len(files), err)
	}
}

func healthString(hs []Health) string {
	var parts []string
	for _, h := range hs {
		parts = append(parts, fmt.Sprintf("%d/%d %s %d-%d-%d %s", h.Segment, h.Shard, h.Last.Provider, h.Passes, h.Fails, h.Misses, h.Last.Outcome))
	}
	return strings.Join(parts, "; ")
}

// A damaged record is reported, names its key, and does not hide the
// others.
// A public file's kept capability and the newest version record survive
// a round trip; a private file's capability comes from its reference.
func TestCapAndVersion(t *testing.T) {
	d := openT(t, t.TempDir())
	defer d.Close()
	priv := testFile("private")
	rc, ok := priv.RepairCap()
	if want, _ := priv.Reference.RepairCap(); !ok || rc != want {
		t.Fatalf("RepairCap(private) = %v, %v, want the one derived from the reference", rc, ok)
	}
	pub := testFile("public")
	pub.Reference.Key = nil
	pub.Manifest.Cipher, pub.Manifest.FileID = seal.None, seal.FileID{}
	pub.Manifest.SegmentSize = 2 * pub.Manifest.StoredChunkSize()
	if _, ok := pub.RepairCap(); ok {
		t.Fatal("RepairCap(public, none kept): ok")
	}
	mk := seal.ManifestKey{4, 5, 6}
	pub.Cap = &manifest.RepairCap{Manifest: pub.Reference.Manifest, Key: mk}
	v, err := manifest.SignVersion(pub.Reference.Manifest, testCID("next"), 3, mk.UpdaterKey())
	if err != nil {
		t.Fatal(err)
	}
	pub.Version, _ = v.MarshalBinary()
	if err := d.Add(pub); err != nil {
		t.Fatal(err)
	}
	got, err := d.Get(pub.Reference.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if rc, ok := got.RepairCap(); !ok || rc != *pub.Cap || string(got.Version) != string(pub.Version) {
		t.Errorf("Get = cap %v (%v), version %x; want %v, %x", rc, ok, got.Version, *pub.Cap, pub.Version)
	}
	if err := d.db.Set(fileKey(pub.Reference.Manifest), []byte(strings.Replace(string(mustRecord(t, d, pub)), `"version_record":"`, `"version_record":"AA`, 1)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(pub.Reference.Manifest); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get(damaged version record) = %v, want ErrCorrupt", err)
	}
}

func mustRecord(t *testing.T, d *DB, f File) []byte {
	t.Helper()
	v, closer, err := d.db.Get(fileKey(f.Reference.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return append([]byte(nil), v...)
}

func TestDamagedRecords(t *testing.T) {
	d := openT(t, t.TempDir())
	defer d.Close()
	good := testFile("good")
	if err := d.Add(good); err != nil {
		t.Fatal(err)
	}
	damaged := testCID("damaged")
	if err := d.db.Set(fileKey(damaged), []byte(`{"v":1,"reference":"dsn:nope"}`), nil); err != nil {
		t.Fatal(err)
	}
	var bad []string
	files, err := d.Files(func(k []byte, err error) { bad = append(bad, err.Error()) })
	if err != nil || len(files) != 1 || files[0].Reference.Manifest != good.Reference.Manifest {
		t.Fatalf("Files = %d, %v; want only the good record", len(files), err)
	}
	if len(bad) != 1 || !strings.Contains(bad[0], "corrupt") {
		t.Errorf("damaged records reported: %q, want one corrupt record", bad)
	}
	if _, err := d.Get(damaged); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get(damaged) = %v, want ErrCorrupt", err)
	}
	if err := d.db.Set(auditKey(good.Reference.Manifest, 0, 0), []byte("{"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Health(good.Reference.Manifest); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Health over a damaged record = %v, want ErrCorrupt", err)
	}
}

func FuzzDecodeFile(f *testing.F) {
	b, _ := testFile("seed").Manifest.MarshalBinary()
	f.Add([]byte(fmt.Sprintf(`{"v":1,"reference":%q,"manifest":%q,"stored":"2024-01-01T00:00:00Z"}`, testFile("seed").Reference.String(), b)))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := decodeFile(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeFile error %v is not ErrCorrupt", err)
			}
			return
		}
		if err := file.Manifest.Validate(); err != nil {
			t.Fatalf("decodeFile accepted an invalid manifest: %v", err)
		}
	})
}

func FuzzDecodeHealth(f *testing.F) {
	f.Add([]byte(`{"v":1,"segment":1,"shard":2,"passes":3,"last":{"outcome":"pass","provider":"AAEC"}}`))
	f.Add([]byte(`{"v":1,"segment":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHealth(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeHealth error %v is not ErrCorrupt", err)
			}
			return
		}
		if h.Segment < 0 || h.Shard < 0 || h.Version != recordVersion {
			t.Fatalf("decodeHealth accepted %+v", h)
		}
	})
}
