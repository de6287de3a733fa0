package manifest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/dsn-project/dsn/seal"
	"github.com/ipfs/go-cid"
)

// Scheme is the prefix of every reference.
const Scheme = "dsn:"

// maxReferenceSize bounds the input of ParseReference: a CID of a 32-byte
// digest in any common base plus a key fits several times over.
const maxReferenceSize = 512

// keyEncoding writes and reads the key fragment: unpadded base64url (RFC 4648
// section 5), 43 characters. Strict decoding rejects the encodings whose
// unused low bits are not zero, so each key has one spelling.
var keyEncoding = base64.RawURLEncoding.Strict()

// keyChars is the length of an encoded key.
var keyChars = keyEncoding.EncodedLen(seal.KeySize)

// ErrReference is returned by ParseReference for a string that is not a
// well-formed reference; the wrapping error says which part is wrong.
var ErrReference = errors.New("malformed reference")

// Reference is what a user keeps to retrieve a file: the CID of its manifest
// envelope and, for a private file, the file key.
type Reference struct {
	Manifest cid.Cid
	Key      *seal.Key // nil for a public file
}

// ManifestKey returns the key that opens the manifest r names: derived
// from r's file key, nil for a public file.
func (r Reference) ManifestKey() *seal.ManifestKey {
	if r.Key == nil {
		return nil
	}
	mk := r.Key.ManifestKey()
	return &mk
}

// RepairCap returns the repair capability of a private file, derived from
// r's key. A public file's reference carries nothing to derive one from
// (its owner keeps a random one), so ok is false.
func (r Reference) RepairCap() (c RepairCap, ok bool) {
	if r.Key == nil {
		return RepairCap{}, false
	}
	return RepairCap{Manifest: r.Manifest, Key: r.Key.ManifestKey()}, true
}

// String returns the reference as dsn:<CID>#<key>, or dsn:<CID> without a
// key. The CID is in its default (base32) form and the key in unpadded
// base64url.
func (r Reference) String() string {
	s := Scheme + r.Manifest.String()
	if r.Key != nil {
		s += "#" + keyEncoding.EncodeToString(r.Key[:])
	}
	return s
}

// ParseReference parses a reference written by Reference.String. The CID
// may be in any multibase go-cid reads, but must be a manifest CID (ErrCID).
func ParseReference(s string) (Reference, error) {
	if len(s) > maxReferenceSize {
		return Reference{}, fmt.Errorf("parse reference: %w: %d bytes, more than %d", ErrReference, len(s), maxReferenceSize)
	}
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Reference{}, fmt.Errorf("parse reference %q: %w: missing %q prefix", redact(s), ErrReference, Scheme)
	}
	cidText, keyText, hasKey := strings.Cut(rest, "#")
	if cidText == "" {
		return Reference{}, fmt.Errorf("parse reference %q: %w: missing manifest CID after %q", redact(s), ErrReference, Scheme)
	}
	c, err := cid.Decode(cidText)
	if err != nil {
		return Reference{}, fmt.Errorf("parse reference %q: %w: bad manifest CID: %v", redact(s), ErrReference, err)
	}
	if _, err := BlobID(c); err != nil {
		return Reference{}, fmt.Errorf("parse reference %q: %w: %w", redact(s), ErrReference, err)
	}
	r := Reference{Manifest: c}
	if !hasKey {
		return r, nil
	}
	if keyText == "" {
		return Reference{}, fmt.Errorf("parse reference %q: %w: empty key after '#' (omit the '#' for a public file)", redact(s), ErrReference)
	}
	if len(keyText) != keyChars {
		return Reference{}, fmt.Errorf("parse reference: %w: key has %d characters, want %d (unpadded base64url)", ErrReference, len(keyText), keyChars)
	}
	var key seal.Key
	if n, err := keyEncoding.Decode(key[:], []byte(keyText)); err != nil || n != seal.KeySize {
		return Reference{}, fmt.Errorf("parse reference: %w: key is not unpadded base64url: %v", ErrReference, err)
	}
	r.Key = &key
	return r, nil
}

// redact hides the key part of a reference, so that error messages, which
// end up in logs, never carry a read capability.
func redact(s string) string {
	if before, _, ok := strings.Cut(s, "#"); ok {
		return before + "#..."
	}
	return s
}
