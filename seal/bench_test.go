package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// The benchmarks run the raw AEADs from the standard library and x/crypto
// next to ChunkCipher in the same process, so the cost of our key
// derivation, nonce and associated data can be read as a ratio:
//
//	go test ./seal -run '^$' -bench . -count 5 -benchtime 200x
//
// The measured medians and the resulting choice of Default are in the
// comment on Default.

var benchSizes = []int{1 << 20}

// cpuTime returns the CPU time this process has used. On a machine shared
// with other work, wall-clock MB/s swings with the scheduler; CPU-time MB/s
// (reported as cpu-MB/s) does not, and is what the ratios are taken from.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f b.N times and reports the throughput per CPU second.
func loop(b *testing.B, size int, f func(i uint64)) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	start := cpuTime()
	var i uint64
	for b.Loop() {
		f(i)
		i++
	}
	if cpu := cpuTime() - start; cpu > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/cpu.Seconds()/1e6, "cpu-MB/s")
	}
}

func rawAEAD(b *testing.B, c Cipher) cipher.AEAD {
	key := make([]byte, 32)
	switch c {
	case AES256GCM:
		blk, err := aes.NewCipher(key)
		if err != nil {
			b.Fatal(err)
		}
		a, err := cipher.NewGCM(blk)
		if err != nil {
			b.Fatal(err)
		}
		return a
	case XChaCha20Poly1305:
		a, err := chacha20poly1305.NewX(key)
		if err != nil {
			b.Fatal(err)
		}
		return a
	}
	b.Fatalf("no raw AEAD for %s", c)
	return nil
}

func BenchmarkSeal(b *testing.B) {
	for _, c := range sealing {
		for _, size := range benchSizes {
			pt := make([]byte, size)
			dst := make([]byte, 0, size+Overhead)
			b.Run(fmt.Sprintf("raw-%s/%dKiB", c, size>>10), func(b *testing.B) {
				a := rawAEAD(b, c)
				nonce := make([]byte, a.NonceSize())
				ad := make([]byte, chunkADSize)
				loop(b, size, func(uint64) { a.Seal(dst[:0], nonce, pt, ad) })
			})
			b.Run(fmt.Sprintf("chunk-%s/%dKiB", c, size>>10), func(b *testing.B) {
				cc := mustCipher(b, mustKey(b, "k"), mustFileID(b, "f"), c)
				loop(b, size, func(i uint64) { cc.Seal(dst[:0], pt, i) })
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, c := range sealing {
		for _, size := range benchSizes {
			pt := make([]byte, size)
			out := make([]byte, 0, size)
			b.Run(fmt.Sprintf("raw-%s/%dKiB", c, size>>10), func(b *testing.B) {
				a := rawAEAD(b, c)
				nonce := make([]byte, a.NonceSize())
				ad := make([]byte, chunkADSize)
				ct := a.Seal(nil, nonce, pt, ad)
				loop(b, size, func(uint64) {
					if _, err := a.Open(out[:0], nonce, ct, ad); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run(fmt.Sprintf("chunk-%s/%dKiB", c, size>>10), func(b *testing.B) {
				cc := mustCipher(b, mustKey(b, "k"), mustFileID(b, "f"), c)
				ct := cc.Seal(nil, pt, 7)
				loop(b, size, func(uint64) {
					if _, err := cc.Open(out[:0], ct, 7); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}
