package ledger

import (
	"runtime"
	"sync"

	"github.com/dsn-project/dsn/ledger/batch"
)

// parallelSigs is the number of signatures from which verifySigs spreads
// work over the CPUs: below it, starting goroutines costs more than it
// saves.
const parallelSigs = 64

// verifySigs reports, for each item, whether its signature is valid. It
// is the one place signatures are checked. Package batch gives exactly
// crypto/ed25519.Verify's answers, about twice as fast on large batches
// (it goes one by one on small ones), and each CPU takes a share.
func verifySigs(items []sigItem) []bool {
	ok := make([]bool, len(items))
	if len(items) == 0 {
		return ok
	}
	workers := runtime.GOMAXPROCS(0)
	if len(items) < parallelSigs {
		workers = 1
	}
	var wg sync.WaitGroup
	chunk := (len(items) + workers - 1) / workers
	for lo := 0; lo < len(items); lo += chunk {
		hi := min(lo+chunk, len(items))
		wg.Go(func() {
			bi := make([]batch.Item, hi-lo)
			for i := range bi {
				it := &items[lo+i]
				bi[i] = batch.Item{PublicKey: it.pub[:], Message: it.msg, Signature: it.sig[:]}
			}
			batch.NewVerifier().Verify(bi, ok[lo:hi:hi])
		})
	}
	wg.Wait()
	return ok
}
