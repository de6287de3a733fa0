package erasure

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/reedsolomon"
)

var update = flag.Bool("update", false, "rewrite testdata/golden_parity.txt")

const goldenFile = "testdata/golden_parity.txt"

// TestGoldenParity pins the parity bytes of a few codes. Shards already
// stored by providers were coded with this matrix; if an upgrade of
// klauspost/reedsolomon (or an option) changed it, new shards would no
// longer decode together with old ones, so this must fail first.
func TestGoldenParity(t *testing.T) {
	var lines []string
	for _, cd := range []struct {
		k, m   int
		segLen int64
	}{{1, 2, 100}, {4, 2, 1000}, {10, 4, 10007}, {17, 3, 5000}, {29, 51, 29 * 128}, {128, 128, 128 * 64}} {
		c := mustNew(t, cd.k, cd.m)
		data := make([]byte, cd.segLen)
		for i := range data {
			data[i] = byte(i*7 + i>>8)
		}
		shards := encode(t, c, data)
		h := sha256.New()
		for _, p := range shards[cd.k:] {
			h.Write(p)
		}
		lines = append(lines, fmt.Sprintf("%d+%d %d %x", cd.k, cd.m, cd.segLen, h.Sum(nil)))
	}
	if *update {
		out := "# k+m segLen sha256(parity shards concatenated); data byte i = byte(i*7 + i>>8)\n" + strings.Join(lines, "\n") + "\n"
		if err := os.WriteFile(goldenFile, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	if len(want) != len(lines) {
		t.Fatalf("%s has %d entries, want %d (run with -update after adding a code)", goldenFile, len(want), len(lines))
	}
	for i := range lines {
		if lines[i] != want[i] {
			t.Errorf("parity changed:\n got %s\nwant %s", lines[i], want[i])
		}
	}
}

// TestParityMatchesPortableCode checks the SIMD kernels the library picks on
// this CPU (GFNI, AVX-512, AVX2) against its portable Go code, so stored
// parity does not depend on the machine that wrote it.
func TestParityMatchesPortableCode(t *testing.T) {
	for _, cd := range []struct{ k, m int }{{4, 2}, {10, 4}, {29, 51}} {
		c := mustNew(t, cd.k, cd.m)
		portable, err := reedsolomon.New(cd.k, cd.m, reedsolomon.WithGFNI(false), reedsolomon.WithAVXGFNI(false),
			reedsolomon.WithAVX512(false), reedsolomon.WithAVX2(false), reedsolomon.WithSSSE3(false), reedsolomon.WithSSE2(false))
		if err != nil {
			t.Fatal(err)
		}
		data := randBytes(uint64(cd.k), cd.k*4096+5)
		shards := encode(t, c, data)
		want := make([][]byte, len(shards))
		for i := range shards {
			want[i] = slices.Clone(shards[i])
		}
		clear(want[cd.k:])
		for i := cd.k; i < len(want); i++ {
			want[i] = make([]byte, len(shards[0]))
		}
		if err := portable.Encode(want); err != nil {
			t.Fatal(err)
		}
		for i := cd.k; i < len(want); i++ {
			if !bytes.Equal(shards[i], want[i]) {
				t.Errorf("%d+%d: parity shard %d differs from the portable code", cd.k, cd.m, i)
			}
		}
	}
}
