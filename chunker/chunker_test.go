package chunker

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	chunk "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/go-cid"
)

const MiB = 1 << 20

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec, want string
		maxLen     int
	}{
		{"", DefaultSpec, DefaultChunkSize},
		{"size-1048576", "size-1048576", 1 << 20},
		{"size-1024", "size-1024", 1024},
		{"size-0262144", "size-262144", 262144},
		{"size-2096896", "size-2096896", 2096896},
		{"buzhash", "buzhash", 512 << 10},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.spec)
		if err != nil || got != tt.want {
			t.Errorf("ParseSpec(%q) = %q, %v, want %q, nil", tt.spec, got, err, tt.want)
		}
		n, err := MaxChunkLen(tt.spec)
		if err != nil || n != tt.maxLen {
			t.Errorf("MaxChunkLen(%q) = %d, %v, want %d, nil", tt.spec, n, err, tt.maxLen)
		}
	}
	bad := []struct{ spec, reason string }{
		{"size-1023", "outside"},
		{"size-2096897", "outside"},
		{"size-2097152", "outside"},
		{"size-0", "outside"},
		{"size-", "not a decimal"},
		{"size-+1024", "not a decimal"},
		{"size--1", "not a decimal"},
		{"size-1k", "not a decimal"},
		{"size-99999999999999999999", "not a decimal"},
		{"size-1024-1", "not a decimal"},
		{"size", "want"},
		{"default", "want"},
		{"rabin", "want"},
		{"rabin-262144", "want"},
		{"buzhash-1", "want"},
		{"Buzhash", "want"},
		{" size-1024", "want"},
	}
	for _, tt := range bad {
		got, err := ParseSpec(tt.spec)
		if !errors.Is(err, ErrBadSpec) {
			t.Errorf("ParseSpec(%q) = %q, %v, want ErrBadSpec", tt.spec, got, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, `"`+tt.spec+`"`) || !strings.Contains(msg, tt.reason) {
			t.Errorf("ParseSpec(%q) error %q, want it to quote the spec and say %q", tt.spec, msg, tt.reason)
		}
		if _, err := MaxChunkLen(tt.spec); !errors.Is(err, ErrBadSpec) {
			t.Errorf("MaxChunkLen(%q) error = %v, want ErrBadSpec", tt.spec, err)
		}
		if _, err := RootCID(strings.NewReader("x"), tt.spec); !errors.Is(err, ErrBadSpec) {
			t.Errorf("RootCID(_, %q) error = %v, want ErrBadSpec", tt.spec, err)
		}
	}
}

// Every accepted fixed size is one that boxo, and so kubo, accepts too.
func TestSpecLimitsAgreeWithBoxo(t *testing.T) {
	for _, n := range []int{MinChunkSize, DefaultChunkSize, MaxChunkSize} {
		spec := "size-" + strconv.Itoa(n)
		if _, err := chunk.FromString(strings.NewReader(""), spec); err != nil {
			t.Errorf("boxo chunk.FromString(%q) = %v, want it accepted", spec, err)
		}
	}
	if _, err := chunk.FromString(strings.NewReader(""), "size-"+strconv.Itoa(MaxChunkSize+1)); err == nil {
		t.Errorf("boxo accepts size-%d; MaxChunkSize could be raised", MaxChunkSize+1)
	}
	if LinksPerNode != 174 {
		t.Errorf("LinksPerNode = %d, want 174 as kubo uses", LinksPerNode)
	}
}

// Root CIDs recorded from kubo, see vectors_test.go for how.
func TestRootCIDVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			if v.size > 64*MiB && testing.Short() {
				t.Skip("large vector skipped in -short mode")
			}
			got, err := RootCID(v.reader(), v.spec)
			if err != nil {
				t.Fatalf("RootCID(%s, %q): %v", v.name, v.spec, err)
			}
			if got.String() != v.want {
				t.Errorf("RootCID(%s, %q) = %s, want %s", v.name, v.spec, got, v.want)
			}
		})
	}
}

// Import agrees with plain boxo (boxo's own splitter, the standard go-cid
// builder with go-multihash's BLAKE3, blocks kept and read back) on DAGs of
// one, two and three levels.
func TestImportMatchesReference(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		chunk    int
		maxLinks int
	}{
		{"empty", 0, 1024, 174},
		{"one byte", 1, 1024, 174},
		{"one chunk", 1024, 1024, 174},
		{"one chunk plus one", 1025, 1024, 174},
		{"full root", 174 * 1024, 1024, 174},
		{"two levels", 174*1024 + 1, 1024, 174},
		{"three levels small fanout", 3*3*1024 + 5, 1024, 3},
		{"four levels fanout 2", 8*1000 + 1, 1000, 2},
		{"default size", 3*MiB + 7, DefaultChunkSize, 174},
		{"default size fanout 2", 5 * MiB, DefaultChunkSize, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := pattern(tt.size)
			want := referenceImport(t, data, chunk.NewSizeSplitter(bytes.NewReader(data), int64(tt.chunk)), tt.maxLinks)
			fs := newFixedSplitter(bytes.NewReader(data), tt.chunk, nil)
			defer fs.release()
			got, err := buildDAG(fs, fs.builder(), tt.maxLinks)
			if err != nil || got != want {
				t.Errorf("buildDAG(%d bytes, size %d, %d links) = %s, %v, want %s", tt.size, tt.chunk, tt.maxLinks, got, err, want)
			}
		})
	}
}

// onChunk sees exactly the file's bytes, in order, in chunks of the spec's
// size with a shorter last one, also when the reader returns short reads.
func TestImportChunks(t *testing.T) {
	data := randomBytes(1, 5*1024+100)
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(data) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"eof with data": func() io.Reader {
			return iotest.DataErrReader(bytes.NewReader(data))
		},
	}
	want, err := RootCID(bytes.NewReader(data), "size-1024")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			got, chunks := collect(t, r(), "size-1024")
			if got != want {
				t.Errorf("Import = %s, want %s as for a plain reader", got, want)
			}
			if len(chunks) != 6 {
				t.Fatalf("Import made %d chunks, want 6", len(chunks))
			}
			for i, c := range chunks[:5] {
				if len(c) != 1024 {
					t.Errorf("chunk %d has %d bytes, want 1024", i, len(c))
				}
			}
			if n := len(chunks[5]); n != 100 {
				t.Errorf("last chunk has %d bytes, want 100", n)
			}
			if joined := bytes.Join(chunks, nil); !bytes.Equal(joined, data) {
				t.Errorf("chunks join to %d bytes that differ from the %d-byte input", len(joined), len(data))
			}
		})
	}
}

func TestImportEmpty(t *testing.T) {
	calls := 0
	c, err := Import(bytes.NewReader(nil), "", func([]byte) error { calls++; return nil })
	if err != nil || calls != 0 {
		t.Fatalf("Import(empty) = %s, %v with %d calls, want no error and no calls", c, err, calls)
	}
	if c.Prefix().Codec != cid.Raw {
		t.Errorf("Import(empty) = %s, want a raw CID", c)
	}
}

// An onChunk error stops reading at once and comes back from Import.
func TestImportCallbackError(t *testing.T) {
	errStop := errors.New("stop")
	for _, spec := range []string{"size-1024", "buzhash"} {
		r := &countingReader{r: bytes.NewReader(randomBytes(2, 4*MiB))}
		calls := 0
		_, err := Import(r, spec, func([]byte) error {
			calls++
			if calls == 2 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "chunk 1") {
			t.Errorf("Import(%q) with failing onChunk = %v, want errStop for chunk 1", spec, err)
		}
		if calls != 2 {
			t.Errorf("Import(%q) called onChunk %d times, want 2 (none after the error)", spec, calls)
		}
		if max, _ := MaxChunkLen(spec); r.n > int64(2*max) {
			t.Errorf("Import(%q) read %d bytes, want at most two chunks' worth (%d)", spec, r.n, 2*max)
		}
	}
}

func TestImportReadError(t *testing.T) {
	errDisk := errors.New("disk on fire")
	for _, spec := range []string{"size-1024", "", "buzhash"} {
		r := io.MultiReader(bytes.NewReader(randomBytes(3, 3000)), iotest.ErrReader(errDisk))
		calls := 0
		_, err := Import(r, spec, func([]byte) error { calls++; return nil })
		if !errors.Is(err, errDisk) || !strings.Contains(err.Error(), "read chunk") {
			t.Errorf("Import(%q) over a failing reader = %v, want wrapped %v", spec, err, errDisk)
		}
		if spec == "size-1024" && calls != 2 {
			t.Errorf("Import(%q) over a failing reader made %d calls, want the 2 full chunks before the failure", spec, calls)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// Buzhash chunks are content-defined: deterministic, bounded, joined they are
// the input, and the root is what plain boxo computes.
func TestBuzhash(t *testing.T) {
	data := randomBytes(4, 3*MiB+7)
	c1, chunks := collect(t, bytes.NewReader(data), "buzhash")
	c2, err := RootCID(iotest.HalfReader(bytes.NewReader(data)), "buzhash")
	if err != nil || c1 != c2 {
		t.Fatalf("RootCID(buzhash) = %s, %v, want %s again", c2, err, c1)
	}
	if !bytes.Equal(bytes.Join(chunks, nil), data) {
		t.Fatal("buzhash chunks do not join to the input")
	}
	if len(chunks) < 6 || len(chunks) > 25 {
		t.Errorf("buzhash made %d chunks of 3 MiB, want 6..25 (128..512 KiB each)", len(chunks))
	}
	for i, b := range chunks {
		if len(b) > BuzhashMaxChunkSize || (i < len(chunks)-1 && len(b) < 128<<10) {
			t.Errorf("buzhash chunk %d has %d bytes, want 128 KiB..512 KiB", i, len(b))
		}
	}
	want := referenceImport(t, data, chunk.NewBuzhash(bytes.NewReader(data)), LinksPerNode)
	if c1 != want {
		t.Errorf("RootCID(buzhash) = %s, plain boxo gives %s", c1, want)
	}
	fixed, _ := RootCID(bytes.NewReader(data), "")
	if fixed == c1 {
		t.Errorf("buzhash and fixed-size chunking give the same root %s", c1)
	}
	// An insertion near the start leaves later chunks as they were.
	shifted := append([]byte("inserted"), data...)
	_, chunks2 := collect(t, bytes.NewReader(shifted), "buzhash")
	if !bytes.Equal(chunks[len(chunks)-1], chunks2[len(chunks2)-1]) {
		t.Error("buzhash: an 8-byte insertion at the start changed the last chunk")
	}
}

func TestBuilder(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("hello world\n"), randomBytes(5, 5000)} {
		for _, codec := range []uint64{cid.Raw, cid.DagProtobuf} {
			got, err := NewBuilder(codec).Sum(data)
			want, err2 := standardBuilder.WithCodec(codec).Sum(data)
			if err != nil || err2 != nil || got != want {
				t.Errorf("NewBuilder(%#x).Sum(%d bytes) = %s, %v, want %s, %v", codec, len(data), got, err, want, err2)
			}
		}
	}
	b := NewBuilder(cid.Raw).WithCodec(cid.DagProtobuf)
	if b.GetCodec() != cid.DagProtobuf {
		t.Errorf("WithCodec(dag-pb).GetCodec() = %#x, want %#x", b.GetCodec(), cid.DagProtobuf)
	}
	got, _ := NewBuilder(cid.Raw).Sum([]byte("hello world\n"))
	if want := "bafkr4ig4ljhnxasawambeqcsymycobuw7ftxdjr3iusquxax2maa5artku"; got.String() != want {
		t.Errorf("NewBuilder(raw).Sum(%q) = %s, want %s", "hello world\n", got, want)
	}
}

// The DAG service keeps nothing, and says so when asked.
func TestDiscardDAG(t *testing.T) {
	c, _ := NewBuilder(cid.Raw).Sum([]byte("x"))
	if _, err := (discardDAG{}).Get(t.Context(), c); err == nil {
		t.Error("discardDAG.Get succeeded, want not found")
	}
	for opt := range (discardDAG{}).GetMany(t.Context(), []cid.Cid{c, c}) {
		if opt.Err == nil {
			t.Error("discardDAG.GetMany gave a node, want not found")
		}
	}
}

// maxAllocsPerChunk bounds heap allocations per 1 MiB chunk (leaf CID, raw
// node, link, growing link lists); measured at about 10 with boxo v0.43.0.
const maxAllocsPerChunk = 20

// Importing the default spec allocates a bounded number of small objects per
// chunk and no chunk buffers (those are pooled).
func TestImportAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count not needed in -short mode")
	}
	data := pattern(16 * MiB)
	r := bytes.NewReader(data)
	allocs := testing.AllocsPerRun(5, func() {
		r.Reset(data)
		if _, err := RootCID(r, ""); err != nil {
			t.Fatal(err)
		}
	})
	if perChunk := allocs / 16; perChunk > maxAllocsPerChunk {
		t.Errorf("RootCID allocates %.0f times for 16 chunks (%.1f per chunk), want at most %d per chunk", allocs, perChunk, maxAllocsPerChunk)
	}
	// Chunk buffers are reused, not allocated per chunk: one import of 16
	// MiB allocates far less than 16 MiB (at most a fresh buffer pair if a
	// GC emptied the pool).
	var before, after runtime.MemStats
	r.Reset(data)
	runtime.ReadMemStats(&before)
	if _, err := RootCID(r, ""); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4*MiB {
		t.Errorf("RootCID of 16 MiB allocated %d bytes, want at most %d", n, 4*MiB)
	}
}
