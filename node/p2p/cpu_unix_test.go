//go:build unix

package p2p

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process has used, which
// in a benchmark includes both ends of a transfer and the kernel's work
// for them.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
