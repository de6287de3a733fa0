package manifest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/erasure"
	"github.com/dsn-project/dsn/seal"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/zeebo/blake3"
)

// detRand returns a deterministic random stream for tests and golden files.
func detRand(seed string) io.Reader {
	h := blake3.New()
	h.WriteString(seed)
	return h.Digest()
}

// testKey is the fixed key of the private golden manifest: bytes 0..31.
func testKey() seal.Key {
	var k seal.Key
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

func testRoot() cid.Cid {
	sum := blake3.Sum256([]byte("plaintext root"))
	mh, _ := multihash.Encode(sum[:], multihash.BLAKE3)
	return cid.NewCidV1(cid.DagProtobuf, mh)
}

// testManifest returns a valid manifest of a 3 MiB + 100 byte file in 1 MiB
// chunks, two chunks per segment, 4+2 shards over 8 providers. private
// selects sealing with AES-256-GCM.
func testManifest(private bool) *Manifest {
	m := &Manifest{
		Size:      3<<20 + 100,
		Chunker:   "size-1048576",
		ChunkSize: 1 << 20,
		K:         4,
		M:         2,
		Root:      testRoot(),
	}
	for i := range m.Updater {
		m.Updater[i] = byte(0x40 + i)
	}
	if private {
		m.Cipher = seal.AES256GCM
		for i := range m.FileID {
			m.FileID[i] = byte(0xa0 + i)
		}
	}
	m.SegmentSize = 2 * m.StoredChunkSize()
	n := erasure.Segments(m.StoredSize(), m.SegmentSize)
	p := 0
	for i := range n {
		var s Segment
		for j := range m.K + m.M {
			s.Shards = append(s.Shards, Shard{
				ID:       dsn.SumShard(fmt.Appendf(nil, "segment %d shard %d private %v", i, j, private)),
				Provider: dsn.PeerID(fmt.Sprintf("provider-%d", p%8)),
			})
			p++
		}
		m.Segments = append(m.Segments, s)
	}
	return m
}

func TestGeometry(t *testing.T) {
	m := testManifest(true)
	if got, want := m.Chunks(), int64(4); got != want {
		t.Errorf("Chunks() = %d, want %d", got, want)
	}
	if got, want := m.StoredSize(), int64(3<<20+100+4*seal.Overhead); got != want {
		t.Errorf("StoredSize() = %d, want %d", got, want)
	}
	if got, want := len(m.Segments), 2; got != want {
		t.Errorf("len(Segments) = %d, want %d", got, want)
	}
	if got, want := m.SegmentLen(0), int64(2<<20+32); got != want {
		t.Errorf("SegmentLen(0) = %d, want %d", got, want)
	}
	if got, want := m.SegmentLen(1), int64(1<<20+100+32); got != want {
		t.Errorf("SegmentLen(1) = %d, want %d", got, want)
	}
	if got := m.SegmentLen(2); got != 0 {
		t.Errorf("SegmentLen(2) = %d, want 0", got)
	}
	if got, want := m.ShardSize(1), erasure.ShardSize(1<<20+132, 4); got != want {
		t.Errorf("ShardSize(1) = %d, want %d", got, want)
	}
	pub := testManifest(false)
	if got, want := pub.StoredSize(), pub.Size; got != want {
		t.Errorf("public StoredSize() = %d, want %d", got, want)
	}
	empty := &Manifest{ChunkSize: 1 << 20}
	if empty.Chunks() != 0 || empty.StoredSize() != 0 {
		t.Errorf("empty file: Chunks() = %d, StoredSize() = %d, want 0, 0", empty.Chunks(), empty.StoredSize())
	}
}

// TestValidate breaks one rule at a time and checks that the error names the
// field.
func TestValidate(t *testing.T) {
	v0root := cid.NewCidV0(func() multihash.Multihash { h, _ := multihash.Sum([]byte("x"), multihash.SHA2_256, -1); return h }())
	longRoot := func() cid.Cid {
		h, _ := multihash.Encode(make([]byte, 200), multihash.IDENTITY)
		return cid.NewCidV1(cid.Raw, h)
	}()
	tests := []struct {
		name    string
		private bool
		edit    func(m *Manifest)
		field   string
	}{
		{"negative size", true, func(m *Manifest) { m.Size = -1 }, "Size"},
		{"huge size", true, func(m *Manifest) { m.Size = MaxFileSize + 1 }, "Size"},
		{"size without segments", true, func(m *Manifest) { m.Size += 3 << 20 }, "Segments"},
		{"empty chunker", true, func(m *Manifest) { m.Chunker = "" }, "Chunker"},
		{"long chunker", true, func(m *Manifest) { m.Chunker = strings.Repeat("x", 65) }, "Chunker"},
		{"chunker with space", true, func(m *Manifest) { m.Chunker = "size 1" }, "Chunker"},
		{"chunker with newline", true, func(m *Manifest) { m.Chunker = "size\n" }, "Chunker"},
		{"chunker non-ascii", true, func(m *Manifest) { m.Chunker = "größe" }, "Chunker"},
		{"small chunk", true, func(m *Manifest) { m.ChunkSize = 1023 }, "ChunkSize"},
		{"big chunk", true, func(m *Manifest) { m.ChunkSize = 16<<20 + 1 }, "ChunkSize"},
		{"zero segment", true, func(m *Manifest) { m.SegmentSize = 0 }, "SegmentSize"},
		{"huge segment", false, func(m *Manifest) { m.SegmentSize = 1<<30 + 1<<20 }, "SegmentSize"},
		{"segment not multiple of sealed chunk", true, func(m *Manifest) { m.SegmentSize = 2 << 20 }, "SegmentSize"},
		{"segment not multiple of public chunk", false, func(m *Manifest) { m.SegmentSize = 2<<20 + 32 }, "SegmentSize"},
		// 1 GiB segments coded 1+255 would make a reader hold 256 GiB.
		{"coded segment too large", false, func(m *Manifest) { m.SegmentSize, m.K, m.M = 1<<30, 1, 255 }, "SegmentSize"},
		{"zero k", true, func(m *Manifest) { m.K = 0 }, "K"},
		{"k over 256", true, func(m *Manifest) { m.K = 257; m.M = 0 }, "K"},
		{"negative m", true, func(m *Manifest) { m.M = -1 }, "M"},
		{"k+m over 256", true, func(m *Manifest) { m.K = 200; m.M = 57 }, "M"},
		{"undefined root", true, func(m *Manifest) { m.Root = cid.Undef }, "Root"},
		{"cidv0 root", true, func(m *Manifest) { m.Root = v0root }, "Root"},
		{"long root", true, func(m *Manifest) { m.Root = longRoot }, "Root"},
		{"unknown cipher", true, func(m *Manifest) { m.Cipher = 7 }, "Cipher"},
		{"sealed without file id", true, func(m *Manifest) { m.FileID = seal.FileID{} }, "FileID"},
		{"public with file id", false, func(m *Manifest) { m.FileID[3] = 1 }, "FileID"},
		{"zero updater", true, func(m *Manifest) { m.Updater = [32]byte{} }, "Updater"},
		{"missing segment", true, func(m *Manifest) { m.Segments = m.Segments[:1] }, "Segments"},
		{"extra segment", true, func(m *Manifest) { m.Segments = append(m.Segments, m.Segments[0]) }, "Segments"},
		{"missing shard", true, func(m *Manifest) { m.Segments[1].Shards = m.Segments[1].Shards[:5] }, "Segments[1].Shards"},
		{"extra shard", true, func(m *Manifest) {
			m.Segments[0].Shards = append(m.Segments[0].Shards, m.Segments[0].Shards[0])
		}, "Segments[0].Shards"},
		{"empty provider", true, func(m *Manifest) { m.Segments[1].Shards[2].Provider = "" }, "Segments[1].Shards[2].Provider"},
		{"long provider", true, func(m *Manifest) {
			m.Segments[0].Shards[5].Provider = dsn.PeerID(strings.Repeat("p", dsn.MaxPeerIDSize+1))
		}, "Segments[0].Shards[5].Provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testManifest(tt.private)
			if err := m.Validate(); err != nil {
				t.Fatalf("fixture: Validate() = %v", err)
			}
			tt.edit(m)
			err := m.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), ": "+tt.field+" ") {
				t.Errorf("Validate() = %q, want it to name %s", err, tt.field)
			}
			if _, err := m.MarshalBinary(); !errors.Is(err, ErrInvalid) {
				t.Errorf("MarshalBinary() = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	edits := map[string]func(m *Manifest){
		"fixture private": func(*Manifest) {},
		"empty file": func(m *Manifest) {
			m.Size, m.Segments = 0, nil
		},
		"one chunk per segment": func(m *Manifest) {
			m.SegmentSize = m.StoredChunkSize()
			m.Segments = append(m.Segments, m.Segments[0], m.Segments[1])
		},
		"no parity": func(m *Manifest) {
			m.M = 0
			for i := range m.Segments {
				m.Segments[i].Shards = m.Segments[i].Shards[:m.K]
			}
		},
		"max width": func(m *Manifest) {
			m.K, m.M = 200, 56
			for i := range m.Segments {
				m.Segments[i].Shards = make([]Shard, 256)
				for j := range m.Segments[i].Shards {
					m.Segments[i].Shards[j].Provider = "p"
				}
			}
		},
		"xchacha": func(m *Manifest) { m.Cipher = seal.XChaCha20Poly1305 },
		"file exactly one segment": func(m *Manifest) {
			m.Size = 2 << 20
			m.Segments = m.Segments[:1]
		},
	}
	for name, edit := range edits {
		m := testManifest(true)
		edit(m)
		if err := m.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v, want nil", name, err)
			continue
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Errorf("%s: MarshalBinary() = %v", name, err)
			continue
		}
		var got Manifest
		if err := got.UnmarshalBinary(b); err != nil {
			t.Errorf("%s: UnmarshalBinary(MarshalBinary()) = %v", name, err)
			continue
		}
		if !equal(&got, m) {
			t.Errorf("%s: round trip = %+v, want %+v", name, got, *m)
		}
	}
}

// equal compares manifests, treating nil and empty segment lists alike.
func equal(a, b *Manifest) bool {
	if len(a.Segments) == 0 && len(b.Segments) == 0 {
		x, y := *a, *b
		x.Segments, y.Segments = nil, nil
		return reflect.DeepEqual(x, y)
	}
	return reflect.DeepEqual(a, b)
}

func TestRoundTrip(t *testing.T) {
	for _, private := range []bool{false, true} {
		m := testManifest(private)
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Manifest
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(MarshalBinary(private=%v)) = %v", private, err)
		}
		if !equal(&got, m) {
			t.Errorf("round trip (private=%v) = %+v, want %+v", private, got, *m)
		}
		// Providers are written once each.
		if n := bytes.Count(b, []byte("provider-3")); n != 1 {
			t.Errorf("encoding holds provider-3 %d times, want 1", n)
		}
	}
}

// TestUnmarshalTruncated checks every proper prefix of an encoding is
// rejected.
func TestUnmarshalTruncated(t *testing.T) {
	b, err := testManifest(true).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		var m Manifest
		if err := m.UnmarshalBinary(b[:n]); !errors.Is(err, ErrFormat) {
			t.Fatalf("UnmarshalBinary(first %d of %d bytes) = %v, want ErrFormat", n, len(b), err)
		}
	}
}

// encodeRaw writes a manifest field by field, without validation, so tests
// can build encodings that MarshalBinary refuses to write.
type rawManifest struct {
	magic      string
	version    uint64
	size       uint64
	chunker    string
	chunkSize  uint64
	segSize    uint64
	k, m       uint64
	root       []byte
	cipher     byte
	fileID     [16]byte
	updater    [32]byte
	providers  []string
	nproviders *uint64 // overrides len(providers) when set
	nsegs      uint64
	shardIdx   []uint64 // provider index per shard, in order
	trailing   []byte
	wideVarint bool // write size with a redundant continuation byte
}

func rawFrom(m *Manifest) *rawManifest {
	r := &rawManifest{
		magic: magic, version: Version, size: uint64(m.Size), chunker: m.Chunker,
		chunkSize: uint64(m.ChunkSize), segSize: uint64(m.SegmentSize), k: uint64(m.K), m: uint64(m.M),
		root: m.Root.Bytes(), cipher: byte(m.Cipher), fileID: m.FileID, updater: m.Updater, nsegs: uint64(len(m.Segments)),
	}
	idx := map[dsn.PeerID]uint64{}
	for _, s := range m.Segments {
		for _, sh := range s.Shards {
			if _, ok := idx[sh.Provider]; !ok {
				idx[sh.Provider] = uint64(len(r.providers))
				r.providers = append(r.providers, string(sh.Provider))
			}
			r.shardIdx = append(r.shardIdx, idx[sh.Provider])
		}
	}
	return r
}

func (r *rawManifest) encode() []byte {
	u := binary.AppendUvarint
	b := []byte(r.magic)
	b = u(b, r.version)
	if r.wideVarint {
		b = append(b, byte(r.size)|0x80, 0)
		if r.size >= 0x80 {
			panic("wideVarint needs a small size")
		}
	} else {
		b = u(b, r.size)
	}
	b = u(b, uint64(len(r.chunker)))
	b = append(b, r.chunker...)
	b = u(b, r.chunkSize)
	b = u(b, r.segSize)
	b = u(b, r.k)
	b = u(b, r.m)
	b = u(b, uint64(len(r.root)))
	b = append(b, r.root...)
	b = append(b, r.cipher)
	b = append(b, r.fileID[:]...)
	b = append(b, r.updater[:]...)
	if r.nproviders != nil {
		b = u(b, *r.nproviders)
	} else {
		b = u(b, uint64(len(r.providers)))
	}
	for _, p := range r.providers {
		b = u(b, uint64(len(p)))
		b = append(b, p...)
	}
	b = u(b, r.nsegs)
	for i, pi := range r.shardIdx {
		id := dsn.SumShard(fmt.Append(nil, i))
		b = append(b, id[:]...)
		b = u(b, pi)
	}
	return append(b, r.trailing...)
}

func TestRawEncoderMatches(t *testing.T) {
	// The test encoder must agree with MarshalBinary on valid input for the
	// rejection tests below to mean anything.
	m := testManifest(true)
	r := rawFrom(m)
	for i := range m.Segments {
		for j := range m.Segments[i].Shards {
			m.Segments[i].Shards[j].ID = dsn.SumShard(fmt.Append(nil, i*(m.K+m.M)+j))
		}
	}
	want, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.encode(); !bytes.Equal(got, want) {
		t.Fatalf("raw encoding differs from MarshalBinary:\n got %x\nwant %x", got, want)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	tiny := func() *rawManifest { // an empty public file: no segments
		m := testManifest(false)
		m.Size, m.Segments = 0, nil
		return rawFrom(m)
	}
	tests := []struct {
		name string
		raw  *rawManifest
		edit func(r *rawManifest)
		want error
		msg  string
	}{
		{"bad magic", nil, func(r *rawManifest) { r.magic = "DSNX" }, ErrFormat, "magic"},
		{"version 0", nil, func(r *rawManifest) { r.version = 0 }, ErrVersion, "version 0"},
		{"version 1", nil, func(r *rawManifest) { r.version = 1 }, ErrVersion, "version 1, written before manifests named an updater key"},
		{"version 3", nil, func(r *rawManifest) { r.version = 3 }, ErrVersion, "version 3"},
		{"zero updater", nil, func(r *rawManifest) { r.updater = [32]byte{} }, ErrFormat, "Updater is zero"},
		{"non-minimal varint", tiny(), func(r *rawManifest) { r.wideVarint = true }, ErrFormat, "minimally"},
		{"trailing bytes", nil, func(r *rawManifest) { r.trailing = []byte{0} }, ErrFormat, "trailing"},
		{"trailing bytes, empty file", tiny(), func(r *rawManifest) { r.trailing = []byte{1, 2} }, ErrFormat, "trailing"},
		{"size too big", nil, func(r *rawManifest) { r.size = MaxFileSize + 1 }, ErrFormat, "Size"},
		{"chunker too long", nil, func(r *rawManifest) { r.chunker = strings.Repeat("a", 65) }, ErrFormat, "Chunker"},
		{"chunker control byte", nil, func(r *rawManifest) { r.chunker = "a\x00" }, ErrFormat, "Chunker"},
		{"chunk size", nil, func(r *rawManifest) { r.chunkSize = 100 }, ErrFormat, "ChunkSize"},
		{"k zero", nil, func(r *rawManifest) { r.k = 0 }, ErrFormat, "K"},
		{"k+m", nil, func(r *rawManifest) { r.k, r.m = 128, 129 }, ErrFormat, "M"},
		{"bad root", nil, func(r *rawManifest) { r.root = []byte{1, 0x55, 0x1e, 0x20} }, ErrFormat, "Root"},
		{"root with trailing byte", nil, func(r *rawManifest) { r.root = append(bytes.Clone(r.root), 0) }, ErrFormat, "Root"},
		{"unknown cipher", nil, func(r *rawManifest) { r.cipher = 3 }, ErrFormat, "Cipher"},
		{"public with file id", tiny(), func(r *rawManifest) { r.fileID[0] = 1 }, ErrFormat, "FileID"},
		{"segment count low", nil, func(r *rawManifest) { r.nsegs = 1 }, ErrFormat, "segment count"},
		{"segment count high", nil, func(r *rawManifest) { r.nsegs = 3 }, ErrFormat, "segment count"},
		{"huge segment count", nil, func(r *rawManifest) { r.nsegs = 1 << 62 }, ErrFormat, "segment count"},
		{"shards missing", nil, func(r *rawManifest) { r.shardIdx = r.shardIdx[:11] }, ErrFormat, "need at least"},
		{"huge provider count", nil, func(r *rawManifest) { n := uint64(1 << 40); r.nproviders = &n }, ErrFormat, "provider count"},
		{"provider count one too many", nil, func(r *rawManifest) { n := uint64(len(r.providers) + 1); r.nproviders = &n }, ErrFormat, ""},
		{"empty provider", nil, func(r *rawManifest) { r.providers[0] = "" }, ErrFormat, "empty"},
		{"long provider", nil, func(r *rawManifest) { r.providers[0] = strings.Repeat("p", 129) }, ErrFormat, "provider 0 length"},
		{"unused provider", nil, func(r *rawManifest) { r.providers = append(r.providers, "spare") }, ErrFormat, "used"},
		{"duplicate provider", nil, func(r *rawManifest) { r.providers[1] = r.providers[0] }, ErrFormat, "canonical"},
		{"provider out of first-use order", nil, func(r *rawManifest) { r.shardIdx[0] = 1 }, ErrFormat, "provider index"},
		{"provider index past table", nil, func(r *rawManifest) {
			r.providers = r.providers[:1]
			for i := range r.shardIdx {
				r.shardIdx[i] = min(r.shardIdx[i], 1)
			}
		}, ErrFormat, "there are 1 providers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.raw
			if r == nil {
				r = rawFrom(testManifest(true))
			}
			if err := new(Manifest).UnmarshalBinary(r.encode()); err != nil {
				t.Fatalf("unedited fixture: UnmarshalBinary = %v", err)
			}
			tt.edit(r)
			b := r.encode()
			var m Manifest
			err := m.UnmarshalBinary(b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("UnmarshalBinary(%.40x...) = %v, want %v", b, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("UnmarshalBinary error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

// TestUnmarshalAllocBound checks that a short input claiming a huge number of
// segments is refused before anything of that size is allocated.
func TestUnmarshalAllocBound(t *testing.T) {
	m := testManifest(false)
	m.Size = MaxFileSize
	m.ChunkSize = 1 << 10
	m.SegmentSize = 1 << 10
	m.Segments = nil
	r := rawFrom(m)
	r.nsegs = uint64(erasure.Segments(m.StoredSize(), m.SegmentSize))
	b := r.encode()
	allocs := testing.AllocsPerRun(5, func() {
		if err := new(Manifest).UnmarshalBinary(b); !errors.Is(err, ErrFormat) {
			t.Fatalf("UnmarshalBinary = %v, want ErrFormat", err)
		}
	})
	if allocs > 30 {
		t.Errorf("rejecting a %d-byte manifest that claims %d segments took %v allocations", len(b), r.nsegs, allocs)
	}
}

func TestMarshalTooLarge(t *testing.T) {
	// MaxSize / 33 bytes per shard is about 2.03M shards. The first case
	// fails the up-front estimate; the second passes it (33 bytes x 2M
	// shards) but not the real encoding, whose 1000 providers cost two
	// index bytes per shard.
	for _, tt := range []struct {
		segments, providers int
	}{{8200, 1}, {7813, 1000}} {
		m := testManifest(false)
		m.ChunkSize, m.SegmentSize = 1<<10, 1<<10
		m.K, m.M = 200, 56
		m.Size = int64(tt.segments) << 10
		shards := make([]Shard, tt.segments*256)
		names := make([]dsn.PeerID, tt.providers)
		for i := range names {
			names[i] = dsn.PeerID(fmt.Sprint("p", i))
		}
		for i := range shards {
			shards[i].Provider = names[i%tt.providers]
		}
		m.Segments = make([]Segment, tt.segments)
		for i := range m.Segments {
			m.Segments[i].Shards = shards[i*256 : (i+1)*256]
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Validate() = %v", err)
		}
		_, err := m.MarshalBinary()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "MaxSize") {
			t.Errorf("MarshalBinary(%d shards, %d providers) = %v, want ErrInvalid naming MaxSize", len(shards), tt.providers, err)
		}
	}
}

// TestUnmarshalMemoryBound checks that decoding, accepted or not, allocates
// no more than a small multiple of the input.
func TestUnmarshalMemoryBound(t *testing.T) {
	hostile := func(edit func(r *rawManifest)) []byte {
		r := rawFrom(testManifest(true))
		edit(r)
		return r.encode()
	}
	valid, _ := testManifest(true).MarshalBinary()
	big := testManifest(false)
	big.ChunkSize, big.SegmentSize, big.K, big.M = 1<<10, 1<<10, 10, 6
	big.Size = 4000 << 10
	big.Segments = make([]Segment, 4000)
	for i := range big.Segments {
		for j := range 16 {
			big.Segments[i].Shards = append(big.Segments[i].Shards, Shard{Provider: dsn.PeerID(fmt.Sprint("peer-", (i*16+j)%1000))})
		}
	}
	bigEnc, err := big.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{
		"valid": valid,
		"large": bigEnc,
		"claims many providers": hostile(func(r *rawManifest) {
			n := uint64(1 << 20)
			r.nproviders = &n
			r.trailing = make([]byte, 1<<20)
		}),
		"claims many segments": hostile(func(r *rawManifest) {
			r.nsegs = 1 << 40
			r.trailing = make([]byte, 1<<20)
		}),
	}
	for name, b := range inputs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var m Manifest
		err := m.UnmarshalBinary(b)
		runtime.ReadMemStats(&after)
		if name == "valid" || name == "large" {
			if err != nil {
				t.Fatalf("%s: UnmarshalBinary = %v", name, err)
			}
		}
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(8*len(b)+64<<10); got > limit {
			t.Errorf("%s: decoding %d bytes allocated %d bytes, want at most %d", name, len(b), got, limit)
		}
	}
}
