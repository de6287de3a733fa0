package ledger

import (
	"crypto/ed25519"
	"runtime"
	"sync"
)

// parallelSigs is the batch size from which verifySigs spreads work over
// the CPUs: below it, starting goroutines costs more than it saves.
const parallelSigs = 64

// verifySigs reports, for each item, whether its signature is valid. It
// is the one place signatures are checked, so that a batch verifier can
// replace the loop without touching the rules.
func verifySigs(items []sigItem) []bool {
	ok := make([]bool, len(items))
	workers := runtime.GOMAXPROCS(0)
	if len(items) < parallelSigs || workers == 1 {
		for i := range items {
			ok[i] = verifyOne(&items[i])
		}
		return ok
	}
	var wg sync.WaitGroup
	chunk := (len(items) + workers - 1) / workers
	for lo := 0; lo < len(items); lo += chunk {
		hi := min(lo+chunk, len(items))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				ok[i] = verifyOne(&items[i])
			}
		})
	}
	wg.Wait()
	return ok
}

func verifyOne(it *sigItem) bool {
	return ed25519.Verify(it.pub[:], it.msg, it.sig[:])
}
