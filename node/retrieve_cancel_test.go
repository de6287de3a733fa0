package node

import (
	"context"
	"errors"
	"testing"
)

// cancelOnFirstWrite cancels a retrieval when its first bytes arrive.
type cancelOnFirstWrite struct {
	cancel context.CancelFunc
	n      int
}

func (w *cancelOnFirstWrite) Write(p []byte) (int, error) {
	if w.n == 0 {
		w.cancel()
	}
	w.n += len(p)
	return len(p), nil
}

// A retrieval its caller cancels says so, never that the data failed its
// check.
func TestCancelledRetrieveSaysCanceled(t *testing.T) {
	l := startNet(t, 8)
	res := storeBytes(t, l, testData(10<<20, 9), StoreOptions{K: 4, M: 2})
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		w := &cancelOnFirstWrite{cancel: cancel}
		_, err := l.Client.Retrieve(ctx, res.Reference, w, nil)
		cancel()
		if errors.Is(err, ErrRootMismatch) || !errors.Is(err, context.Canceled) {
			t.Fatalf("retrieval cancelled after %d of %d bytes: err = %v; want context.Canceled", w.n, 10<<20, err)
		}
	}
}
