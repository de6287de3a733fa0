package chunker

import (
	"bytes"
	"testing"

	chunk "github.com/ipfs/boxo/chunker"
)

// FuzzImport compares the fast path (this package's splitter and zeebo
// BLAKE3 builder, blocks discarded) with plain boxo (boxo's size splitter,
// go-multihash's BLAKE3, blocks stored and read back) for arbitrary bytes,
// chunk sizes and fanouts, so DAGs of many levels come cheaply. It also
// checks that the chunks handed to onChunk join to the input.
func FuzzImport(f *testing.F) {
	f.Add([]byte{}, uint16(1), uint8(2))
	f.Add([]byte("hello world\n"), uint16(5), uint8(2))
	f.Add(pattern(1000), uint16(7), uint8(3))
	f.Add(pattern(4096), uint16(1024), uint8(174))
	f.Fuzz(func(t *testing.T, data []byte, size uint16, links uint8) {
		chunkSize := int(size)%4096 + 1
		maxLinks := int(links)%16 + 2
		if len(data)/chunkSize > 1000 {
			t.Skip("too many chunks for one fuzz input")
		}
		want := referenceImport(t, data, chunk.NewSizeSplitter(bytes.NewReader(data), int64(chunkSize)), maxLinks)
		var joined []byte
		fs := newFixedSplitter(bytes.NewReader(data), chunkSize, func(b []byte) error {
			if len(b) == 0 || len(b) > chunkSize {
				t.Fatalf("chunk of %d bytes, want 1..%d", len(b), chunkSize)
			}
			joined = append(joined, b...)
			return nil
		})
		defer fs.release()
		got, err := buildDAG(fs, fs.builder(), maxLinks)
		if err != nil || got != want {
			t.Fatalf("buildDAG(%d bytes, size %d, %d links) = %s, %v, want %s", len(data), chunkSize, maxLinks, got, err, want)
		}
		if !bytes.Equal(joined, data) {
			t.Fatalf("chunks join to %d bytes that differ from the %d-byte input", len(joined), len(data))
		}
	})
}
