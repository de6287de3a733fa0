package manifest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dsn-project/dsn/seal"
	"github.com/ipfs/go-cid"
)

// CapScheme is the prefix of every repair capability.
const CapScheme = "dsn-repair:"

// ErrRepairCap is returned by ParseRepairCap for a string that is not a
// well-formed repair capability; the wrapping error says which part is
// wrong.
var ErrRepairCap = errors.New("malformed repair capability")

// RepairCap is what a repairer holds: the CID of a file's original
// manifest envelope and the file's ManifestKey. With it a repairer opens
// the manifest, rebuilds and re-places shards (they are sealed bytes, which
// it moves without opening), seals the new manifest and signs a new
// version; it cannot derive the file key, so it cannot read the file.
type RepairCap struct {
	Manifest cid.Cid
	Key      seal.ManifestKey
}

// String returns the capability as dsn-repair:<CID>#<key>, the CID in its
// default (base32) form and the key in unpadded base64url.
func (c RepairCap) String() string {
	return CapScheme + c.Manifest.String() + "#" + keyEncoding.EncodeToString(c.Key[:])
}

// Reference returns a reference to the same manifest without the key: for
// a public file, all a reader needs.
func (c RepairCap) Reference() Reference { return Reference{Manifest: c.Manifest} }

// ParseRepairCap parses a capability written by RepairCap.String. The CID
// may be in any multibase go-cid reads, but must be a manifest CID.
func ParseRepairCap(s string) (RepairCap, error) {
	if len(s) > maxReferenceSize {
		return RepairCap{}, fmt.Errorf("parse repair capability: %w: %d bytes, more than %d", ErrRepairCap, len(s), maxReferenceSize)
	}
	rest, ok := strings.CutPrefix(s, CapScheme)
	if !ok {
		return RepairCap{}, fmt.Errorf("parse repair capability %q: %w: missing %q prefix", redact(s), ErrRepairCap, CapScheme)
	}
	cidText, keyText, hasKey := strings.Cut(rest, "#")
	if cidText == "" {
		return RepairCap{}, fmt.Errorf("parse repair capability %q: %w: missing manifest CID after %q", redact(s), ErrRepairCap, CapScheme)
	}
	c, err := cid.Decode(cidText)
	if err != nil {
		return RepairCap{}, fmt.Errorf("parse repair capability %q: %w: bad manifest CID: %v", redact(s), ErrRepairCap, err)
	}
	if _, err := BlobID(c); err != nil {
		return RepairCap{}, fmt.Errorf("parse repair capability %q: %w: %w", redact(s), ErrRepairCap, err)
	}
	if !hasKey || len(keyText) != keyChars {
		return RepairCap{}, fmt.Errorf("parse repair capability: %w: key has %d characters, want %d (unpadded base64url)", ErrRepairCap, len(keyText), keyChars)
	}
	out := RepairCap{Manifest: c}
	if n, err := keyEncoding.Decode(out.Key[:], []byte(keyText)); err != nil || n != seal.KeySize {
		return RepairCap{}, fmt.Errorf("parse repair capability: %w: key is not unpadded base64url: %v", ErrRepairCap, err)
	}
	return out, nil
}

// IsRepairCap reports whether s is written as a repair capability (it may
// still be malformed), as opposed to a reference.
func IsRepairCap(s string) bool { return strings.HasPrefix(s, CapScheme) }
