//go:build !linux

package chunker

import "time"

// threadCPU is not measured off Linux; benchmarks then omit cpuMB/s.
func threadCPU() time.Duration { return 0 }
