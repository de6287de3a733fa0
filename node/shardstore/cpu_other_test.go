//go:build !unix

package shardstore

import (
	"testing"
)

func dropCache(b *testing.B, path string) { b.Skip("cannot drop the page cache here") }
