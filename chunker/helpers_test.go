package chunker

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

	chunk "github.com/ipfs/boxo/chunker"
	dstest "github.com/ipfs/boxo/ipld/merkledag/test"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

// patternReader yields n bytes where byte i is i mod 251, the pattern of the
// recorded vectors, without holding them all in memory.
type patternReader struct {
	off, n int64
}

// period holds enough of the pattern that any read can be served by one
// copy from the right phase.
var period = func() []byte {
	b := make([]byte, 251+64<<10)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	total := 0
	for len(b) > 0 {
		phase := int(p.off % 251)
		n := copy(b, period[phase:])
		b = b[n:]
		p.off += int64(n)
		total += n
	}
	return total, nil
}

func pattern(n int) []byte {
	b, _ := io.ReadAll(&patternReader{n: int64(n)})
	return b
}

// randomBytes returns n bytes from a ChaCha8 stream with a fixed seed, the
// same for every Go release (ChaCha8 is a fixed algorithm).
func randomBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = seed
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// standardBuilder is the reference CID builder: go-cid's prefix with
// go-multihash's registered BLAKE3, which is lukechampine.com/blake3, an
// implementation independent of zeebo/blake3.
var standardBuilder = cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.BLAKE3, MhLength: -1}

// referenceImport builds the DAG the plain boxo way (boxo's splitter, the
// standard builder, an in-memory DAG service that keeps every block), then
// reads the file back out of the stored DAG and checks that it is data and
// that the DAG has the expected shape. It returns the root CID.
func referenceImport(t testing.TB, data []byte, spl chunk.Splitter, maxLinks int) cid.Cid {
	t.Helper()
	dserv := dstest.Mock()
	params := helpers.DagBuilderParams{
		Maxlinks:   maxLinks,
		RawLeaves:  true,
		CidBuilder: standardBuilder,
		Dagserv:    dserv,
	}
	db, err := params.New(spl)
	if err != nil {
		t.Fatalf("reference DagBuilderParams.New: %v", err)
	}
	root, err := balanced.Layout(db)
	if err != nil {
		t.Fatalf("reference balanced.Layout: %v", err)
	}
	ctx := context.Background()
	rd, err := uio.NewDagReader(ctx, root, dserv)
	if err != nil {
		t.Fatalf("reference NewDagReader: %v", err)
	}
	back, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("reference read back: %v", err)
	}
	if !bytes.Equal(back, data) {
		t.Fatalf("reference DAG reads back %d bytes, want the %d imported", len(back), len(data))
	}
	checkShape(t, ctx, dserv, root.Cid(), maxLinks)
	return root.Cid()
}

// checkShape walks the stored DAG: leaves are raw, every CID uses BLAKE3-256,
// interior nodes are dag-pb with 1..maxLinks links, and all leaves sit at
// the same depth (the balanced layout).
func checkShape(t testing.TB, ctx context.Context, dserv ipld.DAGService, root cid.Cid, maxLinks int) {
	t.Helper()
	leafDepth := -1
	var walk func(c cid.Cid, depth int)
	walk = func(c cid.Cid, depth int) {
		p := c.Prefix()
		if p.Version != 1 || p.MhType != multihash.BLAKE3 || p.MhLength != DigestSize {
			t.Fatalf("node %s has prefix %+v, want CIDv1 blake3-256", c, p)
		}
		if p.Codec == cid.Raw {
			if leafDepth == -1 {
				leafDepth = depth
			} else if depth != leafDepth {
				t.Fatalf("leaf %s at depth %d, others at %d: not balanced", c, depth, leafDepth)
			}
			return
		}
		if p.Codec != cid.DagProtobuf {
			t.Fatalf("node %s has codec %#x, want raw or dag-pb", c, p.Codec)
		}
		nd, err := dserv.Get(ctx, c)
		if err != nil {
			t.Fatalf("get %s: %v", c, err)
		}
		links := nd.Links()
		if len(links) == 0 && depth == 0 {
			return // the empty file is a raw leaf, so this is never reached
		}
		if len(links) < 1 || len(links) > maxLinks {
			t.Fatalf("node %s has %d links, want 1..%d", c, len(links), maxLinks)
		}
		for _, l := range links {
			walk(l.Cid, depth+1)
		}
	}
	walk(root, 0)
}

// collect runs Import and returns the root and a copy of every chunk.
func collect(t testing.TB, r io.Reader, spec string) (cid.Cid, [][]byte) {
	t.Helper()
	var chunks [][]byte
	c, err := Import(r, spec, func(b []byte) error {
		chunks = append(chunks, bytes.Clone(b))
		return nil
	})
	if err != nil {
		t.Fatalf("Import(%q): %v", spec, err)
	}
	return c, chunks
}
