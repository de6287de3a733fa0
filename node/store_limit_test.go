package node

import (
	"context"
	"errors"
	"testing"
)

// A file with more segments than one manifest can list is refused as soon
// as the reader gets there, not after every shard is uploaded and paid
// for.
func TestStoreStopsAtTheManifestsSegmentLimit(t *testing.T) {
	old := maxSegments
	maxSegments = func(k, m int) int64 { return 2 }
	defer func() { maxSegments = old }()
	l := startNet(t, 6)
	_, err := l.Client.Store(ctxT(t), source(5<<20), StoreOptions{SegmentChunks: 1})
	if !errors.Is(err, ErrFileTooLarge) {
		t.Fatalf("Store of 5 one-chunk segments with room for 2 = %v, want ErrFileTooLarge", err)
	}
	held := 0
	for _, p := range l.Providers {
		for range p.Store.Shards(context.Background()) {
			held++
		}
	}
	if held > 2*6 {
		t.Errorf("providers hold %d shards after the refused store, want at most the 12 of the 2 segments a manifest could list", held)
	}
}
