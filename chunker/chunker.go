package chunker

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	chunk "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/zeebo/blake3"
)

const (
	// DefaultSpec is the chunker spec used when none is given: fixed-size
	// chunks of DefaultChunkSize bytes.
	DefaultSpec = "size-1048576"
	// DefaultChunkSize is the chunk size of DefaultSpec (1 MiB).
	DefaultChunkSize = 1 << 20

	// MinChunkSize is the smallest size accepted in a "size-N" spec. boxo
	// accepts down to 1 byte, but every chunk costs an AEAD tag, a leaf CID
	// and a link, so tiny chunks only waste space and time.
	MinChunkSize = 1 << 10
	// MaxChunkSize is the largest size accepted in a "size-N" spec: boxo's
	// chunk.ChunkSizeLimit (2 MiB minus 256 bytes of framing budget), above
	// which boxo and kubo refuse the spec, because a block must fit the
	// 2 MiB bitswap limit.
	MaxChunkSize = chunk.ChunkSizeLimit

	// BuzhashSpec selects boxo's buzhash content-defined chunker: chunks of
	// 128 KiB to 512 KiB, cut where a rolling hash of the content matches,
	// so an insertion early in a file changes only nearby chunks.
	BuzhashSpec = "buzhash"
	// BuzhashMaxChunkSize is the largest chunk the buzhash chunker emits
	// (boxo's buzMax, which boxo does not export).
	BuzhashMaxChunkSize = 512 << 10

	// LinksPerNode is the number of children of each interior node of the
	// balanced DAG: 174, the default of boxo (helpers.DefaultLinksPerBlock)
	// and kubo (Import.UnixFSFileMaxLinks), so root CIDs match theirs.
	LinksPerNode = 174
)

// ErrBadSpec is returned (wrapped, with the spec and the reason) by
// ParseSpec, MaxChunkLen, Import and RootCID when a chunker spec is not one
// of "", "size-N" with N in [MinChunkSize, MaxChunkSize], or "buzhash".
var ErrBadSpec = errors.New("invalid chunker spec")

// ParseSpec validates a chunker spec and returns its canonical form: "" is
// DefaultSpec; "size-N" (N decimal digits, MinChunkSize <= N <= MaxChunkSize)
// is fixed-size chunks of N bytes, returned without leading zeros; "buzhash"
// is content-defined chunks (see BuzhashSpec). These mean what they mean to
// kubo's --chunker flag. Other boxo chunkers (rabin, boxo's "default", which
// is 256 KiB) are refused.
func ParseSpec(spec string) (string, error) {
	canon, _, err := parseSpec(spec)
	return canon, err
}

// MaxChunkLen returns the largest chunk that spec can produce, so callers
// can bound their buffers.
func MaxChunkLen(spec string) (int, error) {
	canon, size, err := parseSpec(spec)
	if err != nil {
		return 0, err
	}
	if canon == BuzhashSpec {
		return BuzhashMaxChunkSize, nil
	}
	return size, nil
}

// parseSpec returns the canonical spec and, for fixed-size specs, the chunk
// size (0 for buzhash).
func parseSpec(spec string) (string, int, error) {
	switch spec {
	case "":
		return DefaultSpec, DefaultChunkSize, nil
	case BuzhashSpec:
		return BuzhashSpec, 0, nil
	}
	digits, ok := strings.CutPrefix(spec, "size-")
	if !ok {
		return "", 0, fmt.Errorf("%w %q: want %q, \"size-N\" or %q", ErrBadSpec, spec, "", BuzhashSpec)
	}
	if digits == "" || len(digits) > 10 || strings.Trim(digits, "0123456789") != "" {
		return "", 0, fmt.Errorf("%w %q: size %q is not a decimal number of bytes", ErrBadSpec, spec, digits)
	}
	n, err := strconv.Atoi(digits) // cannot overflow: at most 10 digits
	if err != nil {
		return "", 0, fmt.Errorf("%w %q: %w", ErrBadSpec, spec, err)
	}
	if n < MinChunkSize || n > MaxChunkSize {
		return "", 0, fmt.Errorf("%w %q: size %d bytes is outside [%d, %d]", ErrBadSpec, spec, n, MinChunkSize, MaxChunkSize)
	}
	return "size-" + strconv.Itoa(n), n, nil
}

// Import reads r to EOF in one pass, cuts it into chunks as spec says, calls
// onChunk (if not nil) with every chunk in order, and returns the root CID
// of the file: the CID that `ipfs add --only-hash --cid-version=1
// --raw-leaves --hash=blake3 --chunker=<spec>` prints for the same bytes
// (balanced layout, LinksPerNode links per node). Nothing is stored.
//
// The chunk slice is only valid during the call: onChunk must neither
// modify it (the importer may still be hashing it) nor keep it after
// returning (its memory is reused for later chunks); copy what you need. Chunks are never empty; an empty input
// gives no calls. Chunks concatenate to the input.
//
// An error from onChunk stops the import; Import returns it wrapped with the
// chunk index (errors.Is finds it). Read errors are returned wrapped too.
func Import(r io.Reader, spec string, onChunk func(chunk []byte) error) (cid.Cid, error) {
	canon, size, err := parseSpec(spec)
	if err != nil {
		return cid.Undef, err
	}
	if canon == BuzhashSpec {
		return buildDAG(&callbackSplitter{s: chunk.NewBuzhash(r), onChunk: onChunk}, NewBuilder(cid.DagProtobuf), LinksPerNode)
	}
	fs := newFixedSplitter(r, size, onChunk)
	defer fs.release()
	return buildDAG(fs, fs.builder(), LinksPerNode)
}

// RootCID is Import without a callback.
func RootCID(r io.Reader, spec string) (cid.Cid, error) {
	return Import(r, spec, nil)
}

// buildDAG runs boxo's balanced UnixFS importer over spl with raw leaves and
// BLAKE3 CIDv1s, discarding the blocks, and returns the root's CID.
func buildDAG(spl chunk.Splitter, b cid.Builder, maxLinks int) (cid.Cid, error) {
	params := helpers.DagBuilderParams{
		Maxlinks:   maxLinks,
		RawLeaves:  true,
		CidBuilder: b,
		Dagserv:    discardDAG{},
	}
	db, err := params.New(spl)
	if err != nil {
		return cid.Undef, fmt.Errorf("import: %w", err)
	}
	root, err := balanced.Layout(db)
	if err != nil {
		// Errors from the splitter arrive here unchanged and already
		// say which chunk failed.
		return cid.Undef, err
	}
	return root.Cid(), nil
}

// fixedSplitter is a chunk.Splitter producing the same chunks as boxo's
// size splitter (full chunks of size bytes, then a shorter last one, never
// an empty one) without allocating per chunk. It also hashes each chunk as
// it reads it, for its leafBuilder: hashing a piece just copied into cache
// is cheaper than hashing the whole chunk again from memory later, and
// brings Import to within about 10-15% of bare BLAKE3 over bytes already in
// memory (see BenchmarkImport).
//
// It alternates between two buffers. The importer reads one chunk ahead
// (it asks whether more data follows before linking the chunk it holds),
// so with two buffers the chunk the importer last received stays intact
// until the one after next is read, even though the importer, as it is
// today, never looks at a chunk's bytes again after hashing them.
type fixedSplitter struct {
	r       io.Reader
	bufs    *splitBufs
	next    int
	index   int // of the next chunk
	onChunk func([]byte) error
	err     error // sticky: io.EOF once done, or the failure
	hashed  hashedChunk

	rawBuilder, pbBuilder leafBuilder
}

// splitBufs is what a fixedSplitter reuses: two chunk buffers and a hasher.
type splitBufs struct {
	b [2][]byte
	h *blake3.Hasher
}

func newSplitBufs(size int) *splitBufs {
	return &splitBufs{b: [2][]byte{make([]byte, size), make([]byte, size)}, h: blake3.New()}
}

// bufPool holds splitBufs of DefaultChunkSize, the size nearly every
// import uses; other sizes are allocated per import.
var bufPool = sync.Pool{New: func() any { return newSplitBufs(DefaultChunkSize) }}

func newFixedSplitter(r io.Reader, size int, onChunk func([]byte) error) *fixedSplitter {
	var bufs *splitBufs
	if size == DefaultChunkSize {
		bufs = bufPool.Get().(*splitBufs)
	} else {
		bufs = newSplitBufs(size)
	}
	s := &fixedSplitter{r: r, bufs: bufs, onChunk: onChunk}
	s.rawBuilder = leafBuilder{Builder{Codec: cid.Raw}, s}
	s.pbBuilder = leafBuilder{Builder{Codec: cid.DagProtobuf}, s}
	return s
}

// builder returns the cid.Builder to import s's chunks with.
func (s *fixedSplitter) builder() cid.Builder {
	return &s.pbBuilder
}

// release returns the buffers for reuse; s must not be used afterwards.
func (s *fixedSplitter) release() {
	if s.bufs != nil && len(s.bufs.b[0]) == DefaultChunkSize {
		bufPool.Put(s.bufs)
	}
	s.bufs = nil
	s.err = errors.New("chunker: splitter used after release")
}

// Reader returns the source, as chunk.Splitter requires.
func (s *fixedSplitter) Reader() io.Reader { return s.r }

// NextBytes returns the next chunk, or io.EOF after the last one.
func (s *fixedSplitter) NextBytes() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	s.hashed = hashedChunk{}
	buf := s.bufs.b[s.next]
	s.next ^= 1
	h := s.bufs.h
	// Read the chunk a piece at a time and hash each piece while it is
	// still in cache; the importer then finds the digest in s.hashed
	// instead of reading the whole chunk from memory a second time.
	h.Reset()
	n := 0
	var err error
	for n < len(buf) && err == nil {
		var m int
		m, err = io.ReadFull(s.r, buf[n:min(n+hashPiece, len(buf))])
		_, _ = h.Write(buf[n : n+m]) // never fails
		n += m
	}
	switch {
	case err == nil:
	case n > 0 && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)):
		s.err = io.EOF // this short chunk is the last one
	case err == io.EOF: // nothing read: no empty chunk
		s.err = io.EOF
		return nil, io.EOF
	default:
		s.err = fmt.Errorf("read chunk %d: %w", s.index, err)
		return nil, s.err
	}
	c := buf[:n]
	s.hashed.data = &c[0]
	s.hashed.n = n
	h.Sum(s.hashed.sum[:0])
	if err := callback(s.onChunk, s.index, c); err != nil {
		s.err = err
		return nil, err
	}
	s.index++
	return c, nil
}

// hashPiece is how much of a chunk is read before hashing it: small enough
// to stay in a core's L2 cache between the copy and the hash.
const hashPiece = 64 << 10

// hashedChunk is the BLAKE3 digest of the n bytes at data, the chunk the
// splitter returned last. The buffer is written only by the splitter, so
// the digest holds for as long as the same slice is presented.
type hashedChunk struct {
	data *byte
	n    int
	sum  [DigestSize]byte
}

// leafBuilder is a cid.Builder that takes the digest of the splitter's
// latest chunk from the splitter instead of hashing it again. Any other
// data (interior nodes, or anything but the very slice returned last) is
// hashed as usual, so the CIDs are the same as Builder's. The splitter
// holds one per codec so that WithCodec, called per node, does not
// allocate.
type leafBuilder struct {
	Builder
	s *fixedSplitter
}

func (b *leafBuilder) Sum(data []byte) (cid.Cid, error) {
	h := &b.s.hashed
	if len(data) == 0 || h.n != len(data) || h.data != &data[0] {
		return b.Builder.Sum(data)
	}
	mh, err := multihash.Encode(h.sum[:], multihash.BLAKE3)
	if err != nil {
		return cid.Undef, fmt.Errorf("encode blake3 multihash: %w", err)
	}
	return cid.NewCidV1(b.Codec, mh), nil
}

func (b *leafBuilder) WithCodec(codec uint64) cid.Builder {
	switch codec {
	case cid.Raw:
		return &b.s.rawBuilder
	case cid.DagProtobuf:
		return &b.s.pbBuilder
	}
	return &leafBuilder{Builder{Codec: codec}, b.s}
}

// callbackSplitter calls onChunk for every chunk of s (boxo's buzhash).
type callbackSplitter struct {
	s       chunk.Splitter
	index   int
	onChunk func([]byte) error
	err     error
}

func (c *callbackSplitter) Reader() io.Reader { return c.s.Reader() }

func (c *callbackSplitter) NextBytes() ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	b, err := c.s.NextBytes()
	if err == io.EOF {
		c.err = io.EOF
		return nil, io.EOF
	}
	if err != nil {
		c.err = fmt.Errorf("read chunk %d: %w", c.index, err)
		return nil, c.err
	}
	if len(b) == 0 {
		// boxo's splitters never do this; the importer would make an
		// empty leaf of it, which kubo would not.
		c.err = fmt.Errorf("read chunk %d: splitter returned an empty chunk", c.index)
		return nil, c.err
	}
	if err := callback(c.onChunk, c.index, b); err != nil {
		c.err = err
		return nil, err
	}
	c.index++
	return b, nil
}

func callback(onChunk func([]byte) error, index int, b []byte) error {
	if onChunk == nil {
		return nil
	}
	if err := onChunk(b); err != nil {
		return fmt.Errorf("chunk %d: %w", index, err)
	}
	return nil
}
