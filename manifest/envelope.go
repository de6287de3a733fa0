package manifest

import (
	"errors"
	"fmt"
	"io"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/seal"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/zeebo/blake3"
)

// Envelope layout: magic, version, kind, body.
const (
	envelopeMagic = "DSNE"
	// Version 1 was sealed with the file key itself; version 2 is sealed
	// with the file's ManifestKey and holds a version 2 manifest.
	envelopeVersion = 2
	envelopeHeader  = len(envelopeMagic) + 2

	kindPublic = 0 // body: the manifest encoding
	kindSealed = 1 // body: seal.SealManifest of the manifest encoding
)

// MaxEnvelopeSize bounds a manifest envelope.
const MaxEnvelopeSize = envelopeHeader + seal.ManifestOverhead + MaxSize

var (
	// ErrNoKey is returned by Open for a sealed manifest when no key was
	// given: the reference lacks its #key part.
	ErrNoKey = errors.New("manifest is encrypted: the reference has no key")
	// ErrCID is returned by BlobID and ParseReference for a CID that cannot
	// name a manifest envelope: it must be a CIDv1 with the raw codec and
	// a 32-byte BLAKE3 multihash.
	ErrCID = errors.New("not a manifest CID (want CIDv1, raw codec, 32-byte blake3 multihash)")
)

func envelope(kind byte, body []byte) []byte {
	b := make([]byte, 0, envelopeHeader+len(body))
	b = append(b, envelopeMagic...)
	b = append(b, envelopeVersion, kind)
	return append(b, body...)
}

// Seal returns the envelope of a private manifest: its encoding sealed with
// the file's ManifestKey (seal.SealManifest, nonce from rand).
func Seal(m *Manifest, key seal.ManifestKey, rand io.Reader) ([]byte, error) {
	if m.Public() {
		return nil, fmt.Errorf("seal manifest: %w: Cipher is none, so the file is public: use Public", ErrInvalid)
	}
	body, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("seal manifest: %w", err)
	}
	sealed, err := seal.SealManifest(key, body, rand)
	if err != nil {
		return nil, fmt.Errorf("seal manifest: %w", err)
	}
	return envelope(kindSealed, sealed), nil
}

// Public returns the envelope of a public manifest, which anyone holding its
// CID can read.
func Public(m *Manifest) ([]byte, error) {
	if !m.Public() {
		return nil, fmt.Errorf("public manifest: %w: Cipher is %s, so the file is private: use Seal", ErrInvalid, m.Cipher)
	}
	body, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("public manifest: %w", err)
	}
	return envelope(kindPublic, body), nil
}

// Open reads a manifest envelope. key is the file's ManifestKey
// (Reference.ManifestKey, or a RepairCap's), nil for a public manifest (a
// key given for one is not needed and is ignored). A sealed manifest without a
// key fails with ErrNoKey; with a key it was not sealed with, or altered
// bytes, with an error wrapping seal.ErrAuth; malformed bytes fail with
// ErrFormat or ErrVersion.
func Open(blob []byte, key *seal.ManifestKey) (*Manifest, error) {
	if len(blob) > MaxEnvelopeSize {
		return nil, fmt.Errorf("open manifest: %w: envelope is %d bytes, more than %d", ErrFormat, len(blob), MaxEnvelopeSize)
	}
	if len(blob) < envelopeHeader || string(blob[:len(envelopeMagic)]) != envelopeMagic {
		return nil, fmt.Errorf("open manifest: %w: not a manifest envelope (want magic %q)", ErrFormat, envelopeMagic)
	}
	if v := blob[len(envelopeMagic)]; v != envelopeVersion {
		if v == 1 {
			return nil, fmt.Errorf("open manifest: envelope version 1, written before repair capabilities and signed versions (this build reads %d; store the file again): %w", envelopeVersion, ErrVersion)
		}
		return nil, fmt.Errorf("open manifest: envelope version %d (this build reads %d): %w", v, envelopeVersion, ErrVersion)
	}
	kind, body := blob[len(envelopeMagic)+1], blob[envelopeHeader:]
	switch kind {
	case kindPublic:
		m, err := decode(body)
		if err != nil {
			return nil, fmt.Errorf("open manifest: %w", err)
		}
		if !m.Public() {
			return nil, fmt.Errorf("open manifest: %w: public envelope holds a manifest with Cipher %s", ErrFormat, m.Cipher)
		}
		return m, nil
	case kindSealed:
		if key == nil {
			return nil, fmt.Errorf("open manifest: %w", ErrNoKey)
		}
		plain, err := seal.OpenManifest(*key, body)
		if err != nil {
			return nil, fmt.Errorf("open manifest: wrong key or corrupted manifest: %w", seal.ErrAuth)
		}
		m, err := decode(plain)
		if err != nil {
			return nil, fmt.Errorf("open manifest: %w", err)
		}
		if m.Public() {
			return nil, fmt.Errorf("open manifest: %w: sealed envelope holds a manifest with Cipher none", ErrFormat)
		}
		return m, nil
	}
	return nil, fmt.Errorf("open manifest: %w: unknown envelope kind %d", ErrFormat, kind)
}

// CID returns the content identifier of a manifest envelope: CIDv1, raw
// codec, BLAKE3-256 multihash of blob.
func CID(blob []byte) cid.Cid {
	sum := blake3.Sum256(blob)
	mh, err := multihash.Encode(sum[:], multihash.BLAKE3)
	if err != nil {
		panic("manifest: multihash.Encode failed on a fixed code: " + err.Error())
	}
	return cid.NewCidV1(cid.Raw, mh)
}

// BlobID returns the ShardID under which the envelope named by c is stored:
// the BLAKE3 digest inside c, which is also the BLAKE3 hash of its bytes.
// Fetching it through dsn.VerifyReader therefore checks it against c.
func BlobID(c cid.Cid) (dsn.ShardID, error) {
	var id dsn.ShardID
	if !c.Defined() {
		return id, fmt.Errorf("blob id: undefined CID: %w", ErrCID)
	}
	if c.Version() != 1 || c.Type() != cid.Raw {
		return id, fmt.Errorf("blob id %s: CIDv%d with codec %#x: %w", c, c.Version(), c.Type(), ErrCID)
	}
	dm, err := multihash.Decode(c.Hash())
	if err != nil {
		return id, fmt.Errorf("blob id %s: %v: %w", c, err, ErrCID)
	}
	if dm.Code != multihash.BLAKE3 || len(dm.Digest) != dsn.ShardIDSize {
		return id, fmt.Errorf("blob id %s: multihash %s with %d-byte digest: %w", c, multihash.Codes[dm.Code], len(dm.Digest), ErrCID)
	}
	copy(id[:], dm.Digest)
	return id, nil
}
