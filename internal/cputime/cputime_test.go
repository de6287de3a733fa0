package cputime

import (
	"runtime"
	"testing"
	"time"
)

// TestProcessGrowsWithWork spins on the CPU until the process's CPU time
// moves, within a bound: a reader stuck at 0 fails instead of hanging.
func TestProcessGrowsWithWork(t *testing.T) {
	switch runtime.GOOS {
	case "windows", "plan9", "js", "wasip1":
		t.Skip("not measured on this system")
	}
	start := Process()
	deadline := time.Now().Add(10 * time.Second)
	x := uint64(1)
	for Process() <= start && time.Now().Before(deadline) {
		for range 1_000_000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if got := Process(); got <= start {
		t.Fatalf("CPU time stayed at %v after 10 s of work (x=%d)", got, x)
	}
}
