package erasure

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// randBytes returns n deterministic pseudo-random bytes.
func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	_, _ = r.Read(b)
	return b
}

func mustNew(t testing.TB, k, m int) *Code {
	t.Helper()
	c, err := New(k, m)
	if err != nil {
		t.Fatalf("New(%d, %d) = %v", k, m, err)
	}
	return c
}

// encode copies data into a fresh buffer prefilled with junk (so that
// missing zero-padding would show) and encodes it.
func encode(t testing.TB, c *Code, data []byte) [][]byte {
	t.Helper()
	buf := bytes.Repeat([]byte{0xA5}, c.BufferSize(int64(len(data))))
	copy(buf, data)
	shards, err := c.Encode(buf, int64(len(data)))
	if err != nil {
		t.Fatalf("Encode(%d+%d, %d bytes) = %v", c.K(), c.M(), len(data), err)
	}
	return shards
}

// without returns a copy of shards with the listed indices set to nil.
func without(shards [][]byte, lost ...int) [][]byte {
	out := slices.Clone(shards)
	for _, i := range lost {
		out[i] = nil
	}
	return out
}

func TestNewRejectsBadCounts(t *testing.T) {
	for _, tc := range []struct{ k, m int }{
		{0, 0}, {0, 4}, {-1, 2}, {4, -1}, {257, 0}, {1, 256}, {200, 57},
		{1 << 62, 1 << 62}, {4, 1<<63 - 1},
	} {
		c, err := New(tc.k, tc.m)
		if !errors.Is(err, ErrShardCount) {
			t.Errorf("New(%d, %d) = %v, %v; want ErrShardCount", tc.k, tc.m, c, err)
			continue
		}
		if want := fmt.Sprintf("k=%d m=%d", tc.k, tc.m); !strings.Contains(err.Error(), want) {
			t.Errorf("New(%d, %d) error %q does not name %q", tc.k, tc.m, err, want)
		}
	}
}

func TestNewAccepts(t *testing.T) {
	for _, tc := range []struct{ k, m int }{{1, 0}, {1, 1}, {1, 255}, {255, 1}, {256, 0}, {128, 128}, {4, 2}} {
		c, err := New(tc.k, tc.m)
		if err != nil {
			t.Errorf("New(%d, %d) = %v", tc.k, tc.m, err)
			continue
		}
		if c.K() != tc.k || c.M() != tc.m {
			t.Errorf("New(%d, %d): K, M = %d, %d", tc.k, tc.m, c.K(), c.M())
		}
	}
}

func TestBufferSize(t *testing.T) {
	c := mustNew(t, 10, 4)
	for _, tc := range []struct {
		segLen int64
		want   int
	}{
		{1, 14 * 64}, {640, 14 * 64}, {641, 14 * 128}, {1 << 20, 14 * 104896},
		{0, 0}, {-5, 0}, {MaxSegmentLen + 1, 0},
	} {
		if got := c.BufferSize(tc.segLen); got != tc.want {
			t.Errorf("BufferSize(%d) = %d, want %d", tc.segLen, got, tc.want)
		}
	}
}

// segLens returns segment lengths that hit the edge cases of a k-shard
// split: one byte, around ShardAlign, around k*ShardAlign, and not a
// multiple of k.
func segLens(k int) []int64 {
	a := int64(ShardAlign)
	kk := int64(k)
	ls := []int64{1, 2, a - 1, a, a + 1, kk*a - 1, kk * a, kk*a + 1, 2 * kk * a, 1000*kk + 7, 12345}
	slices.Sort(ls)
	return slices.Compact(ls)
}

func TestRoundTrip(t *testing.T) {
	codes := []struct{ k, m int }{
		{1, 0}, {1, 1}, {1, 3}, {2, 1}, {3, 2}, {4, 0}, {4, 2}, {10, 4}, {29, 51}, {128, 128}, {200, 56}, {255, 1},
	}
	for _, cd := range codes {
		c := mustNew(t, cd.k, cd.m)
		raw, err := reedsolomon.New(cd.k, cd.m)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range segLens(cd.k) {
			t.Run(fmt.Sprintf("%d+%d/%d", cd.k, cd.m, n), func(t *testing.T) {
				data := randBytes(uint64(n), int(n))
				shards := encode(t, c, data)
				s := int(ShardSize(n, cd.k))
				if len(shards) != cd.k+cd.m {
					t.Fatalf("Encode returned %d shards, want %d", len(shards), cd.k+cd.m)
				}
				for i, sh := range shards {
					if len(sh) != s || cap(sh) != s {
						t.Fatalf("shard %d: len %d cap %d, want %d", i, len(sh), cap(sh), s)
					}
				}
				// Systematic: the data shards are the segment plus zeros.
				joined := bytes.Join(shards[:cd.k], nil)
				if !bytes.Equal(joined[:n], data) {
					t.Fatalf("data shards do not hold the segment")
				}
				if !bytes.Equal(joined[n:], make([]byte, len(joined)-int(n))) {
					t.Fatalf("padding after the segment is not zero")
				}
				if cd.m > 0 {
					if ok, err := raw.Verify(shards); !ok || err != nil {
						t.Fatalf("reedsolomon Verify = %v, %v; want true", ok, err)
					}
				}

				got, err := c.Decode(shards, n, nil)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("Decode(all shards) = %d bytes, %v; want the segment", len(got), err)
				}
				// Lose up to m data shards (the worst case), then up to m
				// shards from the end.
				lost := min(cd.m, cd.k)
				var front, back []int
				for i := range lost {
					front = append(front, i)
				}
				for i := range cd.m {
					back = append(back, cd.k+cd.m-1-i)
				}
				for _, l := range [][]int{front, back} {
					got, err := c.Decode(without(shards, l...), n, nil)
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("Decode(without %v) = %d bytes, %v; want the segment", l, len(got), err)
					}
				}
			})
		}
	}
}

func TestLoseEverySubset4x2(t *testing.T) {
	c := mustNew(t, 4, 2)
	for _, n := range []int64{1, 255, 256, 257, 1000} {
		data := randBytes(uint64(n), int(n))
		shards := encode(t, c, data)
		for mask := 0; mask < 1<<6; mask++ {
			var lost []int
			for i := range 6 {
				if mask&(1<<i) != 0 {
					lost = append(lost, i)
				}
			}
			got, err := c.Decode(without(shards, lost...), n, nil)
			if len(lost) > 2 {
				if !errors.Is(err, ErrTooFewShards) {
					t.Errorf("Decode(%d bytes, lost %v) = %v, want ErrTooFewShards", n, lost, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("Decode(%d bytes, lost %v) = %d bytes, %v; want the segment", n, lost, len(got), err)
			}
		}
	}
}

func TestLoseRandomWide(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, cd := range []struct{ k, m, trials int }{{10, 4, 60}, {29, 51, 40}, {128, 128, 10}, {17, 3, 40}} {
		c := mustNew(t, cd.k, cd.m)
		n := int64(cd.k*300 + 11)
		data := randBytes(uint64(cd.k), int(n))
		shards := encode(t, c, data)
		for range cd.trials {
			lost := r.Perm(cd.k + cd.m)[:r.IntN(cd.m+1)]
			got, err := c.Decode(without(shards, lost...), n, nil)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d+%d: Decode(lost %v) = %d bytes, %v; want the segment", cd.k, cd.m, lost, len(got), err)
			}
		}
	}
}

func TestTooFewShards(t *testing.T) {
	c := mustNew(t, 4, 2)
	data := randBytes(7, 1000)
	shards := encode(t, c, data)
	for _, tc := range []struct {
		lost []int
		want string
	}{
		{[]int{0, 1, 2}, "3 of 6 present, need 4"},
		{[]int{0, 4, 5}, "3 of 6 present, need 4"},
		{[]int{0, 1, 2, 3, 4, 5}, "0 of 6 present, need 4"},
	} {
		got, err := c.Decode(without(shards, tc.lost...), 1000, nil)
		if !errors.Is(err, ErrTooFewShards) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(lost %v) = %d bytes, %v; want ErrTooFewShards saying %q", tc.lost, len(got), err, tc.want)
		}
	}
	// Empty (non-nil) slices count as missing too.
	sh := slices.Clone(shards)
	sh[0], sh[1], sh[2] = []byte{}, shards[1][:0], nil
	if _, err := c.Decode(sh, 1000, nil); !errors.Is(err, ErrTooFewShards) {
		t.Errorf("Decode(3 empty shards) = %v, want ErrTooFewShards", err)
	}
}

func TestWrongShardSize(t *testing.T) {
	c := mustNew(t, 4, 2)
	data := randBytes(8, 1000)
	shards := encode(t, c, data) // ShardSize(1000, 4) = 256
	for _, tc := range []struct {
		idx  int
		size int
	}{{0, 255}, {3, 257}, {5, 1}, {4, 512}} {
		sh := slices.Clone(shards)
		sh[tc.idx] = make([]byte, tc.size)
		_, err := c.Decode(sh, 1000, nil)
		want := fmt.Sprintf("shard %d is %d bytes, want 256", tc.idx, tc.size)
		if !errors.Is(err, ErrShardSize) || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(shard %d of %d bytes) = %v; want ErrShardSize saying %q", tc.idx, tc.size, err, want)
		}
	}
	// Right shards, wrong segment length: the shards no longer fit.
	if _, err := c.Decode(shards, 1025, nil); !errors.Is(err, ErrShardSize) {
		t.Errorf("Decode(segLen 1025 for 1000-byte shards) = %v, want ErrShardSize", err)
	}
}

func TestBadArguments(t *testing.T) {
	c := mustNew(t, 4, 2)
	data := randBytes(9, 1000)
	shards := encode(t, c, data)
	if _, err := c.Decode(shards[:5], 1000, nil); !errors.Is(err, ErrShardCount) || !strings.Contains(err.Error(), "have 5 shards") {
		t.Errorf("Decode(5 shards) = %v, want ErrShardCount naming 5", err)
	}
	if _, err := c.Decode(append(slices.Clone(shards), nil), 1000, nil); !errors.Is(err, ErrShardCount) {
		t.Errorf("Decode(7 shards) = %v, want ErrShardCount", err)
	}
	for _, n := range []int64{0, -1, MaxSegmentLen + 1, 1<<63 - 1} {
		if _, err := c.Decode(shards, n, nil); !errors.Is(err, ErrSegmentLen) {
			t.Errorf("Decode(segLen %d) = %v, want ErrSegmentLen", n, err)
		}
		if _, err := c.Encode(make([]byte, 4096), n); !errors.Is(err, ErrSegmentLen) {
			t.Errorf("Encode(segLen %d) = %v, want ErrSegmentLen", n, err)
		}
	}
	_, err := c.Encode(make([]byte, 6*256-1), 1000)
	if !errors.Is(err, ErrBufferSize) || !strings.Contains(err.Error(), "have 1535 bytes, need 1536") {
		t.Errorf("Encode(short buffer) = %v, want ErrBufferSize with sizes", err)
	}
}

// TestDecodeIgnoresParity proves that with every data shard present Decode
// neither reads nor needs parity: garbage or absent parity changes nothing.
func TestDecodeIgnoresParity(t *testing.T) {
	for _, cd := range []struct{ k, m int }{{4, 2}, {10, 4}, {29, 51}} {
		c := mustNew(t, cd.k, cd.m)
		n := int64(cd.k*1000 + 3)
		data := randBytes(10, int(n))
		shards := encode(t, c, data)
		bad := slices.Clone(shards)
		for i := cd.k; i < cd.k+cd.m; i++ {
			bad[i] = randBytes(uint64(i), len(shards[i]))
		}
		got, err := c.Decode(bad, n, nil)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d+%d: Decode(garbage parity) = %d bytes, %v; want the segment", cd.k, cd.m, len(got), err)
		}
		// The control: garbage parity does matter once parity is used.
		got, err = c.Decode(without(bad, 0), n, nil)
		if err != nil || bytes.Equal(got, data) {
			t.Errorf("%d+%d: Decode(garbage parity, shard 0 lost) = %v, equal=%v; want wrong bytes", cd.k, cd.m, err, bytes.Equal(got, data))
		}
		// Parity absent entirely (only k shards present).
		noParity := slices.Clone(shards)
		clear(noParity[cd.k:])
		got, err = c.Decode(noParity, n, nil)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d+%d: Decode(no parity) = %d bytes, %v; want the segment", cd.k, cd.m, len(got), err)
		}
	}
}

func TestDecodeDst(t *testing.T) {
	c := mustNew(t, 4, 2)
	const n = 1000 // ShardSize 256, so the last data shard carries 232 bytes of padding
	data := randBytes(11, n)
	shards := encode(t, c, data)
	for _, tc := range []struct {
		name   string
		dstCap int
		lost   []int
		reuse  bool
	}{
		{"nil", 0, nil, false},
		{"small", 10, []int{1, 3}, false},
		{"exact", n, nil, true},
		{"exact/lost-tail", n, []int{3}, true},
		{"exact/lost-two", n, []int{0, 2}, true},
		{"padded", 4 * 256, []int{2, 3}, true},
		{"large", 1 << 12, []int{0, 3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, 3, tc.dstCap+3)[3:] // non-zero start shows no stray writes before dst
			got, err := c.Decode(without(shards, tc.lost...), n, dst)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Decode(lost %v, cap %d) = %d bytes, %v; want the segment", tc.lost, tc.dstCap, len(got), err)
			}
			if reused := cap(dst) > 0 && &got[0] == &dst[:1][0]; reused != tc.reuse {
				t.Errorf("Decode(cap %d) reused dst = %v, want %v", tc.dstCap, reused, tc.reuse)
			}
		})
	}
}

// TestDecodeIntoEncodeBuffer decodes into the very buffer Encode filled,
// after scribbling over the lost data shards, as a repair path might.
func TestDecodeIntoEncodeBuffer(t *testing.T) {
	c := mustNew(t, 4, 2)
	const n = 1000
	data := randBytes(12, n)
	buf := make([]byte, c.BufferSize(n))
	copy(buf, data)
	shards, err := c.Encode(buf, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards[1:3] {
		for i := range sh {
			sh[i] = 0xEE
		}
	}
	got, err := c.Decode(without(shards, 1, 2), n, buf)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Decode(into Encode's buffer) = %d bytes, %v; want the segment", len(got), err)
	}
}

func TestDecodeDoesNotModifyShards(t *testing.T) {
	c := mustNew(t, 4, 2)
	data := randBytes(13, 1000)
	shards := encode(t, c, data)
	in := without(shards, 0, 3)
	before := slices.Clone(in)
	if _, err := c.Decode(in, 1000, make([]byte, 0, 1000)); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if len(in[i]) != len(before[i]) || len(in[i]) > 0 && &in[i][0] != &before[i][0] {
			t.Fatalf("Decode replaced shards[%d] in the caller's slice", i)
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	c := mustNew(t, 10, 4)
	const n = 100_000
	data := randBytes(14, n)
	shards := encode(t, c, data)
	dst := make([]byte, n)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := c.Decode(shards, n, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode(all data shards, dst given) allocates %v times, want 0", allocs)
	}
}

// TestConcurrent shares one Code between goroutines; run it with -race.
func TestConcurrent(t *testing.T) {
	c := mustNew(t, 10, 4)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for it := range 5 {
				n := int64(5000 + 97*g + it)
				data := randBytes(uint64(g*10+it), int(n))
				buf := make([]byte, c.BufferSize(n))
				copy(buf, data)
				shards, err := c.Encode(buf, n)
				if err != nil {
					errs <- err
					return
				}
				got, err := c.Decode(without(shards, g%10, (g+it)%14), n, nil)
				if err != nil || !bytes.Equal(got, data) {
					errs <- fmt.Errorf("goroutine %d: Decode = %v, equal=%v", g, err, bytes.Equal(got, data))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestWithShardSizeHintSameBytes(t *testing.T) {
	plain := mustNew(t, 10, 4)
	hinted, err := New(10, 4, WithShardSizeHint(1<<20), WithShardSizeHint(-1))
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(15, 3<<20)
	a := encode(t, plain, data)
	b := encode(t, hinted, data)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("shard %d differs with WithShardSizeHint", i)
		}
	}
}

func ExampleCode() {
	code, err := New(4, 2)
	if err != nil {
		panic(err)
	}
	segment := []byte("a segment of sealed chunks")
	segLen := int64(len(segment))

	buf := make([]byte, code.BufferSize(segLen))
	copy(buf, segment)
	shards, err := code.Encode(buf, segLen)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(shards), "shards of", len(shards[0]), "bytes")

	// Lose any two shards; the other four rebuild the segment.
	shards[0], shards[5] = nil, nil
	got, err := code.Decode(shards, segLen, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", got)

	shards[1] = nil
	_, err = code.Decode(shards, segLen, nil)
	fmt.Println(err)
	// Output:
	// 6 shards of 64 bytes
	// a segment of sealed chunks
	// decode 26-byte segment: erasure: too few shards: 3 of 6 present, need 4
}

// TestDecodeLargeSegments covers multi-MiB segments, with a lost shard in
// the padded tail and dst capacities below, at and above k*ShardSize.
func TestDecodeLargeSegments(t *testing.T) {
	for _, cd := range []struct {
		k, m int
		n    int64
	}{{4, 2, 3<<20 + 12345}, {10, 4, 5<<20 + 7}, {3, 3, 1 << 21}} {
		c := mustNew(t, cd.k, cd.m)
		data := randBytes(uint64(cd.n), int(cd.n))
		shards := encode(t, c, data)
		for _, lost := range [][]int{{0, 1}, {cd.k - 1}, {0, cd.k - 1}, {cd.k - 2, cd.k - 1}} {
			for _, dstCap := range []int64{0, cd.n, int64(cd.k) * ShardSize(cd.n, cd.k)} {
				got, err := c.Decode(without(shards, lost...), cd.n, make([]byte, 0, dstCap))
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("%d+%d: Decode(%d bytes, lost %v, dst cap %d) = %d bytes, %v; want the segment",
						cd.k, cd.m, cd.n, lost, dstCap, len(got), err)
				}
			}
		}
	}
}
