package directio

import (
	"os"
	"testing"

	"github.com/dsn-project/dsn/internal/cputime"
)

// benchWrite writes 256 MiB in 1 MiB pieces (a retrieval's chunks) to a
// new file in dir through w and syncs it, the baseline writing the same
// pieces straight to the file.
func benchWrite(b *testing.B, dir string, direct bool) {
	const total, piece = 256 << 20, 1 << 20
	src := make([]byte, piece)
	for i := range src {
		src[i] = byte(i * 7)
	}
	b.SetBytes(total)
	start := cputime.Process()
	for b.Loop() {
		f, err := os.CreateTemp(dir, "bench-")
		if err != nil {
			b.Fatal(err)
		}
		var wr interface{ Write([]byte) (int, error) } = f
		var dw *Writer
		if direct {
			dw = NewWriter(f, 4<<20)
			wr = dw
		}
		for range total / piece {
			if _, err := wr.Write(src); err != nil {
				b.Fatal(err)
			}
		}
		if dw != nil {
			if err := dw.Close(); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	b.ReportMetric(float64(cputime.Process()-start)/float64(b.N)/total, "cpu-ns/B")
}

// BenchmarkWrite compares Writer with plain buffered writes, on the
// disk (the test's temporary directory, or DSN_BENCH_DIR) and on tmpfs
// (/dev/shm). Run with -benchtime=5x and compare B/s and CPU (e.g. with
// /usr/bin/time): direct writes cost the kernel less CPU, not always
// less wall time.
func BenchmarkWrite(b *testing.B) {
	disk := os.Getenv("DSN_BENCH_DIR")
	if disk == "" {
		disk = b.TempDir()
	}
	dirs := map[string]string{"disk": disk}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dirs["shm"] = "/dev/shm"
	}
	for name, dir := range dirs {
		b.Run(name+"/buffered", func(b *testing.B) { benchWrite(b, dir, false) })
		b.Run(name+"/direct", func(b *testing.B) { benchWrite(b, dir, true) })
	}
}
