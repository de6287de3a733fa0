package merkle

import (
	"encoding/binary"
	"math/bits"
)

// The BLAKE3 tree, written out from the specification
// (https://github.com/BLAKE3-team/BLAKE3-specs/blob/master/blake3.pdf,
// sections 2.2-2.6). This is the reference path: Verify uses nothing else,
// so a verifier trusts only this file and the standard library. It is plain
// Go, one compression at a time; Verify touches c leaves, not the shard.

const (
	chunkSize = 1024 // bytes in one BLAKE3 chunk: one leaf of the tree
	blockSize = 64   // bytes in one compression block

	flagChunkStart = 1 << 0
	flagChunkEnd   = 1 << 1
	flagParent     = 1 << 2
	flagRoot       = 1 << 3
)

// cv is a chaining value: the first 8 words of a compression output.
type cv [8]uint32

var iv = cv{
	0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
	0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
}

func g(a, b, c, d, mx, my uint32) (uint32, uint32, uint32, uint32) {
	a += b + mx
	d = bits.RotateLeft32(d^a, -16)
	c += d
	b = bits.RotateLeft32(b^c, -12)
	a += b + my
	d = bits.RotateLeft32(d^a, -8)
	c += d
	b = bits.RotateLeft32(b^c, -7)
	return a, b, c, d
}

// compress is the BLAKE3 compression function truncated to the 8 words
// that chaining values and 32-byte hashes use.
func compress(h *cv, m *[16]uint32, counter uint64, blockLen, flags uint32) cv {
	v0, v1, v2, v3 := h[0], h[1], h[2], h[3]
	v4, v5, v6, v7 := h[4], h[5], h[6], h[7]
	v8, v9, v10, v11 := iv[0], iv[1], iv[2], iv[3]
	v12, v13, v14, v15 := uint32(counter), uint32(counter>>32), blockLen, flags
	m0, m1, m2, m3, m4, m5, m6, m7 := m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]
	m8, m9, m10, m11, m12, m13, m14, m15 := m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15]
	for r := 0; ; r++ {
		v0, v4, v8, v12 = g(v0, v4, v8, v12, m0, m1)
		v1, v5, v9, v13 = g(v1, v5, v9, v13, m2, m3)
		v2, v6, v10, v14 = g(v2, v6, v10, v14, m4, m5)
		v3, v7, v11, v15 = g(v3, v7, v11, v15, m6, m7)
		v0, v5, v10, v15 = g(v0, v5, v10, v15, m8, m9)
		v1, v6, v11, v12 = g(v1, v6, v11, v12, m10, m11)
		v2, v7, v8, v13 = g(v2, v7, v8, v13, m12, m13)
		v3, v4, v9, v14 = g(v3, v4, v9, v14, m14, m15)
		if r == 6 {
			break
		}
		// The spec's message permutation, applied between rounds; locals
		// keep the words in registers.
		m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15 =
			m2, m6, m3, m10, m7, m0, m4, m13, m1, m11, m12, m5, m9, m14, m15, m8
	}
	return cv{v0 ^ v8, v1 ^ v9, v2 ^ v10, v3 ^ v11, v4 ^ v12, v5 ^ v13, v6 ^ v14, v7 ^ v15}
}

// chunkCV returns the chaining value of chunk number counter, whose bytes
// are data (1 to 1024 bytes; 0 only for the empty input). With root set it
// returns the root hash words instead, for an input of exactly one chunk.
func chunkCV(data []byte, counter uint64, root bool) cv {
	h := iv
	var m [16]uint32
	flags := uint32(flagChunkStart)
	for len(data) > blockSize {
		for i := range m {
			m[i] = binary.LittleEndian.Uint32(data[4*i:])
		}
		h = compress(&h, &m, counter, blockSize, flags)
		flags = 0
		data = data[blockSize:]
	}
	var last [blockSize]byte
	copy(last[:], data)
	for i := range m {
		m[i] = binary.LittleEndian.Uint32(last[4*i:])
	}
	flags |= flagChunkEnd
	if root {
		flags |= flagRoot
	}
	return compress(&h, &m, counter, uint32(len(data)), flags)
}

// parentCV returns the chaining value of a parent node over two children,
// or with root set the root hash words.
func parentCV(left, right *cv, root bool) cv {
	var m [16]uint32
	copy(m[:8], left[:])
	copy(m[8:], right[:])
	flags := uint32(flagParent)
	if root {
		flags |= flagRoot
	}
	return compress(&iv, &m, 0, blockSize, flags)
}

// leftChunks is how many of count chunks (count >= 2) the left subtree of
// their node holds: the largest power of two strictly below count.
func leftChunks(count uint64) uint64 {
	return 1 << (bits.Len64(count-1) - 1)
}

// subtreeCV hashes the subtree over data, whose first chunk has number
// counter, the way the spec's tree splits it. It is the slow reference used
// for small shards and by tests.
func subtreeCV(data []byte, counter uint64, root bool) cv {
	if len(data) <= chunkSize {
		return chunkCV(data, counter, root)
	}
	n := (uint64(len(data)) + chunkSize - 1) / chunkSize
	l := leftChunks(n)
	left := subtreeCV(data[:l*chunkSize], counter, false)
	right := subtreeCV(data[l*chunkSize:], counter+l, false)
	return parentCV(&left, &right, root)
}

func (h cv) bytes() (b [32]byte) {
	for i, w := range h {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}

func cvFromBytes(b []byte) (h cv) {
	for i := range h {
		h[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return h
}
