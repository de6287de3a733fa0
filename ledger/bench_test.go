package ledger

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range fixtures {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// signedReceipts returns n receipts from client to provider for
// testShard, in sessions of 1000, session numbers from base on, signed
// on every CPU.
func signedReceipts(tb testing.TB, base, n int) []Entry {
	out := make([]Entry, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				s := base + i/1000
				r := &Receipt{Provider: provider, Client: client, Shard: testShard, Seq: uint64(i%1000 + 1), Bytes: uint64(i%1000+1) * 1000}
				r.Session[0], r.Session[1], r.Session[2] = byte(s), byte(s>>8), byte(s>>16)
				if err := r.Sign(clientKey); err != nil {
					panic(err)
				}
				out[i] = r
			}
		})
	}
	wg.Wait()
	return out
}

// BenchmarkAppend measures durable appends of receipts (one signature
// each) at several batch sizes, and pebble's synced batch commit of the
// same bytes in the same run: the ratio is what validation, hashing and
// the rule indexes cost.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d/ledger", size), func(b *testing.B) {
			l := openLog(b, b.TempDir(), providerKey)
			appendAll(b, l, newDeal(b, testShard, dealFrom, dealTo))
			n := (b.N + size - 1) / size * size
			es := signedReceipts(b, 0, n)
			enc, _ := Marshal(es[0])
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				if _, err := l.AppendBatch(es[i : i+size]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
		b.Run(fmt.Sprintf("batch=%d/pebble", size), func(b *testing.B) {
			db, err := pebble.Open(b.TempDir(), quietPebble())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			pool := signedReceipts(b, 0, 1000)
			encs := make([][]byte, len(pool))
			for i, e := range pool {
				encs[i], _ = Marshal(e)
			}
			b.SetBytes(int64(len(encs[0])))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				batch := db.NewBatch()
				for j := i; j < i+size; j++ {
					batch.Set(u64Key(keyEntry, uint64(j)), encs[j%len(encs)], nil)
				}
				if err := batch.Commit(pebble.Sync); err != nil {
					b.Fatal(err)
				}
				batch.Close()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// fixtures holds logs built once per process, by size, for
// BenchmarkVerify; TestMain removes them.
var (
	fixturesMu sync.Mutex
	fixtures   = map[int]string{}
)

// fixture returns the directory of a provider's log of n entries: one
// deal, then receipts with a credit every 100 entries.
func fixture(b *testing.B, n int) string {
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if dir, ok := fixtures[n]; ok {
		return dir
	}
	start := time.Now()
	dir, err := os.MkdirTemp("", "ledger-verify-bench")
	if err != nil {
		b.Fatal(err)
	}
	fixtures[n] = dir
	l, err := Open(dir, providerKey, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	appendAll(b, l, newDeal(b, testShard, 0, uint64(n/100+1)*hour))
	const chunk = 1000
	for done, epoch := 1, uint64(0); done < n; {
		m := min(chunk, n-done)
		es := signedReceipts(b, done, m)
		for i := 99; i < m; i += 100 {
			es[i] = newCredit(b, testShard, epoch)
			epoch++
		}
		if _, err := l.AppendBatch(es); err != nil {
			b.Fatal(err)
		}
		done += m
		if done%100_000 < chunk {
			if _, err := l.Checkpoint(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := l.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a log of %d entries in %v", n, time.Since(start).Round(time.Second))
	return dir
}

// BenchmarkVerify measures Verify over whole logs; peak-heap-MB is the
// largest live heap sampled every 5 ms during the run.
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			if n > 10_000 && testing.Short() {
				b.Skip("large log in -short mode")
			}
			dir := fixture(b, n)
			l, err := Open(dir, providerKey, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			runtime.GC()
			var peak atomic.Uint64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
				t := time.NewTicker(5 * time.Millisecond)
				defer t.Stop()
				for {
					metrics.Read(s)
					if v := s[0].Value.Uint64(); v > peak.Load() {
						peak.Store(v)
					}
					select {
					case <-stop:
						return
					case <-t.C:
					}
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				sum, err := l.Verify(context.Background())
				if err != nil || sum.Entries != int64(n) {
					b.Fatalf("Verify() = %+v, %v", sum, err)
				}
			}
			b.StopTimer()
			close(stop)
			<-done
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		})
	}
}
