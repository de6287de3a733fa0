//go:build amd64 && !purego

package compact

import "golang.org/x/sys/cpu"

// haveIFMA reports whether innerProductIFMA can run here.
var haveIFMA = cpu.X86.HasAVX512F && cpu.X86.HasAVX512IFMA

// innerProductIFMA sets cols to the column sums, lane by lane, of the
// products of alpha's limbs and block's sectors' limbs (see ifma.go). In
// ifma_amd64.s.
//
//go:noescape
func innerProductIFMA(alpha *ifmaAlpha, block *[BlockSize]byte, cols *[10][8]uint64)
