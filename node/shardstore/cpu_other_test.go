//go:build !unix

package shardstore

import (
	"testing"
	"time"
)

// processCPU is not measured here; benchmarks then report 0 cpu-ns/B.
func processCPU() time.Duration { return 0 }

func dropCache(b *testing.B, path string) { b.Skip("cannot drop the page cache here") }
