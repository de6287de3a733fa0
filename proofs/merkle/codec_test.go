package merkle

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsn-project/dsn"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

func TestProofRoundTrip(t *testing.T) {
	for _, size := range []int{1, 1024, 1025, GroupSize + 1, 300 * 1024} {
		s := newShard(t, byte(size), size)
		for _, c := range []int{1, 30, c99} {
			p := s.prove(t, testSeed(c), c)
			b, err := p.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary(%d bytes, c=%d) = %v", size, c, err)
			}
			if len(b) > MaxProofSize(len(p.Leaves)) {
				t.Fatalf("proof of %d leaves encodes to %d bytes, above MaxProofSize %d", len(p.Leaves), len(b), MaxProofSize(len(p.Leaves)))
			}
			q, err := UnmarshalProof(b, c)
			if err != nil {
				t.Fatalf("UnmarshalProof(%d bytes, c=%d) = %v", size, c, err)
			}
			if err := Verify(s.id, int64(size), testSeed(c), c, q); err != nil {
				t.Fatalf("Verify(decoded proof) = %v", err)
			}
			b2, _ := q.MarshalBinary()
			if !bytes.Equal(b, b2) {
				t.Fatalf("proof of %d bytes, c=%d: re-encoding differs", size, c)
			}
			if _, err := UnmarshalProof(b, len(p.Leaves)-1); len(p.Leaves) > 1 && !errors.Is(err, ErrProofTooLarge) {
				t.Fatalf("UnmarshalProof(%d leaves, maxLeaves %d) = %v, want ErrProofTooLarge", len(p.Leaves), len(p.Leaves)-1, err)
			}
		}
	}
}

// goldenProof is a small fixed proof: two leaves of a 3-chunk shard.
func goldenProof(t testing.TB) []byte {
	s := newShard(t, 42, 2*chunkSize+10)
	p := s.prove(t, testSeed(42), 3)
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func goldenOutboard(t testing.TB) []byte {
	b, err := newShard(t, 43, 2*GroupSize+5).ob.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The encodings are stored and sent, so they must not change silently.
func TestGoldenEncodings(t *testing.T) {
	for name, b := range map[string][]byte{"proof-v1.hex": goldenProof(t), "outboard-v1.hex": goldenOutboard(t)} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read golden file: %v (run go test -run TestGoldenEncodings -update)", err)
		}
		if got := hex.EncodeToString(b); got != strings.TrimSpace(string(want)) {
			t.Errorf("encoding of %s changed:\n got %s\nwant %s", name, got, want)
		}
	}
}

func TestUnmarshalProofRejects(t *testing.T) {
	good := goldenProof(t)
	p, err := UnmarshalProof(good, 3)
	if err != nil {
		t.Fatalf("UnmarshalProof(golden) = %v", err)
	}
	if len(p.Leaves) < 2 {
		t.Fatalf("golden proof has %d leaves, want 2 or more", len(p.Leaves))
	}
	// Offsets into the golden proof: version 0, shard 1, size 33 (2
	// bytes: 2058), seed 35, samples 67, count 68, first index 69.
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name      string
		b         []byte
		maxLeaves int
		want      error
	}{
		{"empty", nil, 3, ErrProofFormat},
		{"version 0", mod(func(b []byte) []byte { b[0] = 0; return b }), 3, ErrProofFormat},
		{"truncated header", good[:40], 3, ErrProofFormat},
		{"truncated leaf", good[:len(good)-1], 3, ErrProofFormat},
		{"trailing byte", append(bytes.Clone(good), 0), 3, ErrProofFormat},
		{"size zero", mod(func(b []byte) []byte { return append(append(b[:33:33], 0), b[35:]...) }), 3, ErrProofFormat},
		{"size not minimal", mod(func(b []byte) []byte { return append(append(b[:33:33], 0x8a, 0x90, 0x00), b[35:]...) }), 3, ErrProofFormat},
		{"samples zero", mod(func(b []byte) []byte { b[67] = 0; return b }), 3, ErrProofFormat},
		{"more leaves than samples", mod(func(b []byte) []byte { b[67] = 1; return b }), 3, ErrProofFormat},
		{"leaf count zero", mod(func(b []byte) []byte { b[68] = 0; return b }), 3, ErrProofFormat},
		{"more leaves than allowed", good, 1, ErrProofTooLarge},
		{"no leaves allowed", good, 0, ErrProofTooLarge},
		{"chunk number beyond shard", mod(func(b []byte) []byte { b[69] = 3; return b }), 3, ErrProofFormat},
		{"input above bound", make([]byte, MaxProofSize(3)+1), 3, ErrProofTooLarge},
	}
	for _, tt := range tests {
		if _, err := UnmarshalProof(tt.b, tt.maxLeaves); !errors.Is(err, tt.want) {
			t.Errorf("UnmarshalProof(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
	// Leaves out of order or repeated: build such bytes by hand.
	dup := *p
	dup.Leaves = []Leaf{p.Leaves[1], p.Leaves[0]}
	if _, err := dup.MarshalBinary(); !errors.Is(err, ErrProofFormat) {
		t.Errorf("MarshalBinary(leaves out of order) = %v, want ErrProofFormat", err)
	}
	i0 := 69 + 1 + len(p.Leaves[0].Data) + 32*len(p.Leaves[0].Path)
	swapped := mod(func(b []byte) []byte { b[i0] = byte(p.Leaves[0].Index); return b })
	if _, err := UnmarshalProof(swapped, 3); !errors.Is(err, ErrProofFormat) {
		t.Errorf("UnmarshalProof(repeated chunk number) = %v, want ErrProofFormat", err)
	}
}

func TestMarshalRejectsMisshapenLeaves(t *testing.T) {
	s := newShard(t, 1, 5000)
	p := s.prove(t, testSeed(1), 4)
	p.Leaves[0].Data = append(p.Leaves[0].Data, 0)
	if _, err := p.MarshalBinary(); !errors.Is(err, ErrProofFormat) {
		t.Errorf("MarshalBinary(long leaf) = %v, want ErrProofFormat", err)
	}
	if _, err := (&Proof{Size: 10, Samples: 1}).MarshalBinary(); !errors.Is(err, ErrProofFormat) {
		t.Errorf("MarshalBinary(no leaves) = %v, want ErrProofFormat", err)
	}
}

func FuzzUnmarshalProof(f *testing.F) {
	f.Add(goldenProof(f), 3)
	s := newShard(f, 1, GroupSize+1)
	for _, c := range []int{1, 5} {
		b, _ := s.prove(f, testSeed(c), c).MarshalBinary()
		f.Add(b, c)
	}
	f.Fuzz(func(t *testing.T, b []byte, maxLeaves int) {
		maxLeaves = maxLeaves%64 + 1
		if maxLeaves < 1 {
			maxLeaves += 64
		}
		p, err := UnmarshalProof(b, maxLeaves)
		if err != nil {
			if !errors.Is(err, ErrProofFormat) && !errors.Is(err, ErrProofTooLarge) {
				t.Fatalf("UnmarshalProof = %v, not a sentinel error", err)
			}
			return
		}
		if len(p.Leaves) > maxLeaves {
			t.Fatalf("UnmarshalProof gave %d leaves, limit %d", len(p.Leaves), maxLeaves)
		}
		// Whatever decodes is canonical: it encodes back to the same bytes.
		again, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded proof re-encodes to %x, %v; input %x", again, err, b)
		}
		// And Verify judges it without panicking.
		_ = Verify(p.Shard, p.Size, p.Seed, p.Samples, p)
	})
}

func FuzzUnmarshalOutboard(f *testing.F) {
	f.Add(goldenOutboard(f))
	for _, size := range []int{0, 1, GroupSize, 3*GroupSize + 1} {
		b, _ := newShard(f, 2, size).ob.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := UnmarshalOutboard(b)
		if err != nil {
			if !errors.Is(err, ErrOutboardFormat) && !errors.Is(err, ErrOutboardTooLarge) && !errors.Is(err, ErrOutboardCorrupt) {
				t.Fatalf("UnmarshalOutboard = %v, not a sentinel error", err)
			}
			return
		}
		again, err := o.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded outboard re-encodes to %x, %v; input %x", again, err, b)
		}
		if o.Size() > dsn.MaxShardSize {
			t.Fatalf("decoded outboard of %d bytes", o.Size())
		}
	})
}

// The fast outboard builder and the reference tree agree on arbitrary
// data and write patterns.
func FuzzOutboardWriter(f *testing.F) {
	f.Add([]byte("hello"), uint16(3))
	f.Add(bytes.Repeat([]byte{7}, 2*GroupSize+3), uint16(1000))
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		w := NewOutboardWriter()
		st := int(step)%(GroupSize+7) + 1
		for off := 0; off < len(data); off += st {
			w.Write(data[off:min(off+st, len(data))])
		}
		o := w.Sum()
		if want := dsn.ShardID(subtreeCV(data, 0, true).bytes()); o.Root() != want {
			t.Fatalf("outboard root %s, reference %s", o.Root().Short(), want.Short())
		}
		for g, h := range o.levels[0] {
			lo := g * GroupSize
			if want := subtreeCV(data[lo:min(lo+GroupSize, len(data))], uint64(g*GroupChunks), false); h != want {
				t.Fatalf("group %d differs from reference", g)
			}
		}
	})
}
