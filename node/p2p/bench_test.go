package p2p

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/cputime"
)

const benchProto = "/dsn/bench/sink/1.0.0"

// BenchmarkStream sends size bytes over a fresh stream and waits for the
// receiver's acknowledgement, through this package's dsn.Stream and, in the
// same run, through the bare libp2p stream it wraps, over TCP (TLS,
// yamux) and QUIC on 127.0.0.1.
func BenchmarkStream(b *testing.B) {
	for _, tr := range []struct{ name, addr string }{{"tcp", tcpLoopback}, {"quic", quicLoopback}} {
		b.Run(tr.name, func(b *testing.B) {
			ctx := context.Background()
			mk := func() *Host {
				h, err := New(ctx, newKey(b), Config{ListenAddrs: []string{tr.addr}, Logger: quietLogger()})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = h.Close() })
				return h
			}
			a, c := mk(), mk()
			if err := a.Connect(ctx, c.Addrs()[0]); err != nil {
				b.Fatal(err)
			}
			c.SetStreamHandler(benchProto, func(s dsn.Stream) {
				n, _ := io.Copy(io.Discard, s)
				fmt.Fprintf(s, "%d", n)
				_ = s.Close()
			})
			c.h.SetStreamHandler(benchProto+"/raw", func(s network.Stream) {
				n, _ := io.Copy(io.Discard, s)
				fmt.Fprintf(s, "%d", n)
				_ = s.Close()
			})
			for _, size := range []int{64 << 10, 1 << 20, 16 << 20} {
				buf := make([]byte, 256<<10)
				send := func(b *testing.B, s io.ReadWriter, closeWrite func() error) {
					for left := size; left > 0; left -= len(buf) {
						if _, err := s.Write(buf[:min(left, len(buf))]); err != nil {
							b.Fatal(err)
						}
					}
					if err := closeWrite(); err != nil {
						b.Fatal(err)
					}
					if ack, err := io.ReadAll(s); err != nil || string(ack) != fmt.Sprint(size) {
						b.Fatalf("ack = %q, %v", ack, err)
					}
				}
				b.Run(fmt.Sprintf("dsn/%dKiB", size>>10), func(b *testing.B) {
					b.SetBytes(int64(size))
					b.ReportAllocs()
					defer reportCPU(b, size)()
					for b.Loop() {
						s, err := a.NewStream(ctx, c.Self(), benchProto)
						if err != nil {
							b.Fatal(err)
						}
						send(b, s, s.CloseWrite)
						_ = s.Close()
					}
				})
				b.Run(fmt.Sprintf("raw/%dKiB", size>>10), func(b *testing.B) {
					b.SetBytes(int64(size))
					b.ReportAllocs()
					defer reportCPU(b, size)()
					for b.Loop() {
						s, err := a.h.NewStream(ctx, c.h.ID(), benchProto+"/raw")
						if err != nil {
							b.Fatal(err)
						}
						send(b, s, s.CloseWrite)
						_ = s.Close()
					}
				})
			}
		})
	}
}

// reportCPU reports the process's CPU time (user and system, both ends of
// the stream) per byte sent, as "cpu-ns/B". On a shared machine it varies
// far less than the wall time.
func reportCPU(b *testing.B, size int) func() {
	start := cputime.Process()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cputime.Process()-start)/float64(b.N)/float64(size), "cpu-ns/B")
		}
	}
}
