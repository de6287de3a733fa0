//go:build !amd64 || purego

package compact

const haveIFMA = false

func innerProductIFMA(alpha *ifmaAlpha, block *[BlockSize]byte, cols *[10][8]uint64) {
	panic("compact: no IFMA kernel on this platform")
}
