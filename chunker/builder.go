package chunker

import (
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/zeebo/blake3"
)

// DigestSize is the length of the BLAKE3 digests in the CIDs made here.
const DigestSize = 32

// Builder makes CIDv1s whose multihash is the 32-byte BLAKE3 digest of the
// block (multihash code 0x1e). It implements cid.Builder.
//
// It hashes with github.com/zeebo/blake3 directly instead of going through
// go-multihash's hasher registry, so the hash used for file IDs is the same
// code that names shards, and nothing depends on what the registry happens to
// hold.
type Builder struct {
	// Codec is the multicodec of the CIDs made, e.g. cid.Raw or
	// cid.DagProtobuf.
	Codec uint64
}

var _ cid.Builder = Builder{}

// NewBuilder returns a Builder for CIDv1s with the given codec.
func NewBuilder(codec uint64) Builder { return Builder{Codec: codec} }

// Sum returns the CIDv1 of data: b.Codec, BLAKE3-256 multihash.
func (b Builder) Sum(data []byte) (cid.Cid, error) {
	d := blake3.Sum256(data)
	mh, err := multihash.Encode(d[:], multihash.BLAKE3)
	if err != nil {
		// Encode fails only for unknown codes or oversize digests,
		// neither of which can happen with these constants.
		return cid.Undef, fmt.Errorf("encode blake3 multihash: %w", err)
	}
	return cid.NewCidV1(b.Codec, mh), nil
}

// GetCodec returns b.Codec.
func (b Builder) GetCodec() uint64 { return b.Codec }

// WithCodec returns a Builder like b with the given codec. The UnixFS
// importer uses it to switch between cid.Raw leaves and cid.DagProtobuf
// interior nodes.
func (b Builder) WithCodec(codec uint64) cid.Builder { return Builder{Codec: codec} }
