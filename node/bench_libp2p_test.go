package node

import (
	"context"
	"io"
	"testing"
)

// BenchmarkLibp2p stores and retrieves over libp2p hosts on 127.0.0.1 with
// disk stores, all in one process: the network stack's share of the cost.
func BenchmarkLibp2p(b *testing.B) {
	const size = 256 << 20
	l, err := StartLocalNetwork(context.Background(), b.TempDir(), 6, LocalOptions{Libp2p: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	source(size)
	var res *StoreResult
	b.Run("store", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if res, err = l.Client.Store(context.Background(), source(size), StoreOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("retrieve", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := l.Client.Retrieve(context.Background(), res.Reference, io.Discard, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
