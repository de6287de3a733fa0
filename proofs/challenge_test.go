package proofs

import (
	"fmt"
	"math"
	"testing"
)

func TestSamplesFor(t *testing.T) {
	tests := []struct {
		f, p float64
		want int
	}{
		{0.01, 0.99, 459},
		{0.001, 0.99, 4603},
		{0.05, 0.99, 90},
		{0.5, 0.99, 7},
		{0.5, 0.5, 1},
		{1, 0.99, 1},
	}
	for _, tt := range tests {
		got := SamplesFor(tt.f, tt.p)
		if got != tt.want {
			t.Errorf("SamplesFor(%v, %v) = %d, want %d", tt.f, tt.p, got, tt.want)
		}
		if Detection(tt.f, got) < tt.p {
			t.Errorf("Detection(%v, %d) = %v, below %v", tt.f, got, Detection(tt.f, got), tt.p)
		}
		if got > 1 && Detection(tt.f, got-1) >= tt.p {
			t.Errorf("SamplesFor(%v, %v) = %d is not the smallest", tt.f, tt.p, got)
		}
	}
}

func TestSampleIsDeterministicAndLabelled(t *testing.T) {
	seed := MixSeed([32]byte{1}, []byte("epoch 7"))
	a := Sample(seed, []byte("shard A"), 1000, 50)
	if b := Sample(seed, []byte("shard A"), 1000, 50); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("Sample is not deterministic: %v then %v", a, b)
	}
	if b := Sample(seed, []byte("shard B"), 1000, 50); fmt.Sprint(a) == fmt.Sprint(b) {
		t.Fatalf("two labels under one seed sample the same indices %v", a)
	}
	other := MixSeed([32]byte{2}, []byte("epoch 7"))
	if b := Sample(other, []byte("shard A"), 1000, 50); fmt.Sprint(a) == fmt.Sprint(b) {
		t.Fatalf("two seeds sample the same indices %v", a)
	}
	for _, v := range a {
		if v >= 1000 {
			t.Fatalf("Sample(n=1000) returned %d", v)
		}
	}
	if got := Sample(seed, nil, 1, 3); fmt.Sprint(got) != "[0 0 0]" {
		t.Fatalf("Sample(n=1, c=3) = %v, want [0 0 0]", got)
	}
	if got := Sample(seed, nil, 5, 0); len(got) != 0 {
		t.Fatalf("Sample(c=0) = %v, want none", got)
	}
}

func TestMixSeedSeparatesInputs(t *testing.T) {
	// The beacon's length is framed, so moving bytes between the two inputs
	// cannot produce the same seed.
	a := MixSeed([32]byte{}, []byte("ab"))
	b := MixSeed([32]byte{}, []byte("a"))
	c := MixSeed([32]byte{1}, []byte("ab"))
	if a == b || a == c || b == c {
		t.Fatalf("distinct inputs gave equal seeds: %x %x %x", a, b, c)
	}
}

// TestSampleIsUniform checks a chi-squared statistic over many draws against a
// bound that a uniform sampler exceeds with probability far below 1e-6, and
// that a biased one (for example v%n without rejection over a small range,
// or a stuck stream) fails.
func TestSampleIsUniform(t *testing.T) {
	const n, draws = 37, 37 * 2000
	seed := MixSeed([32]byte{9}, nil)
	counts := make([]float64, n)
	for _, v := range Sample(seed, []byte("u"), n, draws) {
		counts[v]++
	}
	want := float64(draws) / n
	var chi float64
	for _, c := range counts {
		chi += (c - want) * (c - want) / want
	}
	// 36 degrees of freedom: P(chi2 > 90) is about 2e-6.
	if chi > 90 {
		t.Fatalf("chi-squared over %d buckets = %.1f, want <= 90 for a uniform sample", n, chi)
	}
	if math.IsNaN(chi) {
		t.Fatal("chi-squared is NaN")
	}
}

func TestSampleLargeRange(t *testing.T) {
	// n close to 2^64 exercises the rejection bound.
	seed := MixSeed([32]byte{3}, nil)
	n := uint64(math.MaxUint64 - 5)
	seen := map[uint64]bool{}
	for _, v := range Sample(seed, []byte("big"), n, 100) {
		if v >= n {
			t.Fatalf("Sample(n=%d) returned %d", n, v)
		}
		seen[v] = true
	}
	if len(seen) < 99 {
		t.Fatalf("100 draws over 2^64 gave only %d distinct values", len(seen))
	}
}
