package owned

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/erasure"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/seal"
)

// The record of a file whose manifest is near manifest.MaxSize (a file of
// some 3 TiB at 10+6) is one Get reads back: in the record's JSON the
// manifest takes a third more than its bytes.
func TestBigManifestRecordRoundTrips(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 50 MiB manifest")
	}
	m := &manifest.Manifest{
		Chunker: "size-1048576", ChunkSize: 1 << 20, K: 10, M: 6,
		Root: testCID("root"), Cipher: seal.AES256GCM,
	}
	copy(m.FileID[:], "file id")
	copy(m.Updater[:], "updater key")
	m.SegmentSize = 32 * m.StoredChunkSize()
	m.Size = 100000 * 32 << 20
	providers := make([]dsn.PeerID, m.K+m.M)
	for j := range providers {
		providers[j] = dsn.PeerID([]byte{'p', byte(j)})
	}
	for i := range erasure.Segments(m.StoredSize(), m.SegmentSize) {
		s := manifest.Segment{Shards: make([]manifest.Shard, m.K+m.M)}
		for j := range s.Shards {
			var id dsn.ShardID
			binary.BigEndian.PutUint64(id[:], uint64(i))
			binary.BigEndian.PutUint64(id[8:], uint64(j))
			s.Shards[j] = manifest.Shard{ID: id, Provider: providers[j]}
		}
		m.Segments = append(m.Segments, s)
	}
	mb, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(mb) < 48<<20 {
		t.Fatalf("test manifest of %d bytes, want over 48 MiB", len(mb))
	}
	d := openT(t, t.TempDir())
	defer d.Close()
	key := seal.Key{1}
	f := File{Reference: manifest.Reference{Manifest: testCID("big"), Key: &key}, Manifest: m, Stored: time.Now()}
	if err := d.Add(f); err != nil {
		t.Fatalf("Add(record of a %d-byte manifest) = %v", len(mb), err)
	}
	got, err := d.Get(f.Reference.Manifest)
	if err != nil {
		t.Fatalf("Get after Add of a %d-byte manifest = %v, want the record", len(mb), err)
	}
	if len(got.Manifest.Segments) != len(m.Segments) {
		t.Fatalf("Get = %d segments, want %d", len(got.Manifest.Segments), len(m.Segments))
	}
}
