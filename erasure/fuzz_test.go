package erasure

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/klauspost/reedsolomon"
)

type fuzzCodes struct {
	mu   sync.Mutex
	ours map[[2]int]*Code
	raw  map[[2]int]reedsolomon.Encoder
}

var fuzzCache = fuzzCodes{ours: map[[2]int]*Code{}, raw: map[[2]int]reedsolomon.Encoder{}}

// codes returns a cached Code and a separately built raw library encoder
// for k+m; building wide codes costs more than decoding a small input.
func (fc *fuzzCodes) codes(t *testing.T, k, m int) (*Code, reedsolomon.Encoder) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	key := [2]int{k, m}
	if c, ok := fc.ours[key]; ok {
		return c, fc.raw[key]
	}
	c := mustNew(t, k, m)
	raw, err := reedsolomon.New(k, m)
	if err != nil {
		t.Fatalf("reedsolomon.New(%d, %d) = %v", k, m, err)
	}
	fc.ours[key], fc.raw[key] = c, raw
	return c, raw
}

// FuzzDecode encodes random data, loses a random set of shards (sometimes
// one too many), optionally corrupts a surviving shard the way bytes from
// a faulty provider would be, and checks Decode two ways: against the input
// when nothing was corrupted, and always against the library's own
// ReconstructData followed by Join.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("x"), uint8(0), uint8(0), uint64(0), false, uint16(0))
	f.Add([]byte("hello, segment"), uint8(3), uint8(2), uint64(1), false, uint16(14))
	f.Add(bytes.Repeat([]byte{1, 2, 3}, 700), uint8(9), uint8(4), uint64(7), true, uint16(2100))
	f.Add(bytes.Repeat([]byte{0xff}, 64*29), uint8(28), uint8(51), uint64(99), false, uint16(0))
	f.Add(make([]byte, 257), uint8(63), uint8(63), uint64(12345), false, uint16(257))
	f.Fuzz(checkDecode)
}

func checkDecode(t *testing.T, data []byte, kb, mb uint8, seed uint64, corrupt bool, dstCap uint16) {
	if len(data) == 0 || len(data) > 1<<16 {
		return
	}
	k, m := 1+int(kb%64), int(mb%64)
	c, raw := fuzzCache.codes(t, k, m)
	n := int64(len(data))
	shards := encode(t, c, data)

	r := rand.New(rand.NewPCG(seed, uint64(k)<<8|uint64(m)))
	lost := r.Perm(k + m)[:r.IntN(m+2)]
	in := without(shards, lost...)
	if corrupt {
		var alive []int
		for i, sh := range in {
			if sh != nil {
				alive = append(alive, i)
			}
		}
		if len(alive) > 0 {
			i := alive[r.IntN(len(alive))]
			in[i] = slices.Clone(in[i])
			in[i][r.IntN(len(in[i]))] ^= byte(1 + r.IntN(255))
		}
	}

	dst := make([]byte, 0, int(dstCap))
	got, err := c.Decode(slices.Clone(in), n, dst)
	if len(lost) > m {
		if !errors.Is(err, ErrTooFewShards) {
			t.Fatalf("%d+%d: Decode(lost %v) = %v, want ErrTooFewShards", k, m, lost, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%d+%d: Decode(lost %v) = %v", k, m, lost, err)
	}
	if !corrupt && !bytes.Equal(got, data) {
		t.Fatalf("%d+%d: Decode(lost %v) differs from the encoded segment", k, m, lost)
	}

	ref := slices.Clone(in)
	if m > 0 {
		if err := raw.ReconstructData(ref); err != nil {
			t.Fatalf("reedsolomon ReconstructData = %v", err)
		}
	}
	var joined bytes.Buffer
	if err := raw.Join(&joined, ref, len(data)); err != nil {
		t.Fatalf("reedsolomon Join = %v", err)
	}
	if !bytes.Equal(got, joined.Bytes()) {
		t.Fatalf("%d+%d: Decode(lost %v, corrupt %v) differs from ReconstructData+Join", k, m, lost, corrupt)
	}
}
