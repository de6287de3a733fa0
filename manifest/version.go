package manifest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/varint"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// VersionNamespace is the namespace of version records in the DHT: their
// keys are /VersionNamespace/<updater key><original manifest digest>.
const VersionNamespace = "dsnv"

// Version record layout (docs/formats.md).
const (
	versionMagic   = "DSNV"
	versionFormat  = 1
	versionHeader  = len(versionMagic) + 1
	versionContext = "dsn manifest version record v1\x00"
	// MaxVersionRecordSize bounds an encoded version record: header, two
	// digests, a sequence number, a public key and a signature.
	MaxVersionRecordSize = versionHeader + 2*dsn.ShardIDSize + binary.MaxVarintLen64 + ed25519.PublicKeySize + ed25519.SignatureSize
	// MaxVersionLead bounds how far a record's sequence number, a time in
	// Unix milliseconds, may be ahead of the clock of the peer that checks
	// it. The owner and every holder of the repair capability sign with
	// the same updater key, so without a bound a capability holder could
	// publish the largest sequence number and no later version, the
	// owner's included, could ever supersede it. With it, a record signed
	// at the bound is overtaken by writers using their own clocks within
	// MaxVersionLead; clocks off by more than that refuse honest records.
	MaxVersionLead = time.Hour
)

var (
	// ErrVersionRecord is returned by ParseVersionRecord and the
	// validator for bytes that are not a well-formed, correctly signed
	// version record, or a record stored under a key it does not belong
	// to.
	ErrVersionRecord = errors.New("bad manifest version record")
	// ErrVersionAhead is returned, beside ErrVersionRecord, for a record
	// whose sequence number is more than MaxVersionLead ahead of the
	// checker's clock.
	ErrVersionAhead = errors.New("sequence number ahead of the clock")
)

// VersionRecord says that the file whose original manifest is Original is
// now described by the manifest Manifest. Seq orders the versions: the
// highest wins. Signature is the Ed25519 signature of Updater, which must be
// the Updater of the original manifest, over the record's other fields.
type VersionRecord struct {
	Original  cid.Cid
	Seq       uint64
	Manifest  cid.Cid
	Updater   [ed25519.PublicKeySize]byte
	Signature [ed25519.SignatureSize]byte
}

// SignVersion returns the record, signed with key, that makes next the
// version seq (at least 1) of the file whose original manifest is
// original.
func SignVersion(original, next cid.Cid, seq uint64, key ed25519.PrivateKey) (*VersionRecord, error) {
	if seq == 0 {
		return nil, fmt.Errorf("sign version: %w: sequence number 0 is the original itself", ErrVersionRecord)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("sign version: %w: updater key has %d bytes", ErrVersionRecord, len(key))
	}
	for _, c := range []cid.Cid{original, next} {
		if _, err := BlobID(c); err != nil {
			return nil, fmt.Errorf("sign version: %w", err)
		}
	}
	v := &VersionRecord{Original: original, Seq: seq, Manifest: next}
	copy(v.Updater[:], key.Public().(ed25519.PublicKey))
	copy(v.Signature[:], ed25519.Sign(key, v.signed()))
	return v, nil
}

// unsigned appends the fields the signature covers, in encoding order.
func (v *VersionRecord) unsigned(b []byte) []byte {
	orig, _ := BlobID(v.Original)
	next, _ := BlobID(v.Manifest)
	b = append(b, versionMagic...)
	b = append(b, versionFormat)
	b = append(b, orig[:]...)
	b = binary.AppendUvarint(b, v.Seq)
	b = append(b, next[:]...)
	return append(b, v.Updater[:]...)
}

// signed is the message the signature is over: a context string that no
// other signed message in dsn starts with, then the unsigned encoding.
func (v *VersionRecord) signed() []byte {
	return v.unsigned([]byte(versionContext))
}

// MarshalBinary returns the record's encoding (docs/formats.md).
func (v *VersionRecord) MarshalBinary() ([]byte, error) {
	for _, c := range []cid.Cid{v.Original, v.Manifest} {
		if _, err := BlobID(c); err != nil {
			return nil, fmt.Errorf("encode version record: %w", err)
		}
	}
	b := v.unsigned(make([]byte, 0, MaxVersionRecordSize))
	return append(b, v.Signature[:]...), nil
}

// Key returns the key the record is stored under.
func (v *VersionRecord) Key() string { return VersionKey(v.Original, v.Updater) }

// VersionKey returns the DHT key of the version records of the file whose
// original manifest is original and whose updater key is updater:
// /dsnv/ followed by the 32-byte key and the 32-byte BLAKE3 digest of the
// original envelope. Binding both means a record stored under a file's key
// can only be signed by that file's updater, and names only that file.
func VersionKey(original cid.Cid, updater [ed25519.PublicKeySize]byte) string {
	id, _ := BlobID(original)
	b := make([]byte, 0, 2+len(VersionNamespace)+len(updater)+len(id))
	b = append(b, '/')
	b = append(b, VersionNamespace...)
	b = append(b, '/')
	b = append(b, updater[:]...)
	return string(append(b, id[:]...))
}

func badRecord(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrVersionRecord}, args...)...)
}

// ParseVersionRecord decodes a record and checks its signature. It accepts
// only the canonical encoding, with no trailing bytes.
func ParseVersionRecord(b []byte) (*VersionRecord, error) {
	if len(b) > MaxVersionRecordSize {
		return nil, badRecord("%d bytes, more than %d", len(b), MaxVersionRecordSize)
	}
	if len(b) < versionHeader || string(b[:len(versionMagic)]) != versionMagic {
		return nil, badRecord("missing magic %q", versionMagic)
	}
	if b[len(versionMagic)] != versionFormat {
		return nil, badRecord("format version %d (this build reads %d)", b[len(versionMagic)], versionFormat)
	}
	rest := b[versionHeader:]
	take := func(field string, n int) ([]byte, error) {
		if len(rest) < n {
			return nil, badRecord("%s: want %d bytes, have %d", field, n, len(rest))
		}
		p := rest[:n]
		rest = rest[n:]
		return p, nil
	}
	v := new(VersionRecord)
	orig, err := take("original", dsn.ShardIDSize)
	if err != nil {
		return nil, err
	}
	seq, n, err := varint.Uvarint(rest)
	if err != nil {
		return nil, badRecord("sequence number: %v", err)
	}
	if seq == 0 {
		return nil, badRecord("sequence number 0")
	}
	rest = rest[n:]
	v.Seq = seq
	next, err := take("manifest", dsn.ShardIDSize)
	if err != nil {
		return nil, err
	}
	upd, err := take("updater", ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	sig, err := take("signature", ed25519.SignatureSize)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, badRecord("%d trailing bytes", len(rest))
	}
	v.Original, v.Manifest = digestCID(orig), digestCID(next)
	copy(v.Updater[:], upd)
	copy(v.Signature[:], sig)
	if !ed25519.Verify(ed25519.PublicKey(v.Updater[:]), v.signed(), v.Signature[:]) {
		return nil, badRecord("signature does not verify with updater key %x", v.Updater[:8])
	}
	return v, nil
}

// digestCID returns the manifest CID of a 32-byte BLAKE3 digest.
func digestCID(d []byte) cid.Cid {
	mh, err := multihash.Encode(d, multihash.BLAKE3)
	if err != nil {
		panic("manifest: multihash.Encode failed on a fixed code: " + err.Error())
	}
	return cid.NewCidV1(cid.Raw, mh)
}

// Newer reports whether v supersedes o: a higher sequence number, or for
// equal ones (two writers that raced) the larger encoding, so that every
// peer picks the same record.
func (v *VersionRecord) Newer(o *VersionRecord) bool {
	if v.Seq != o.Seq {
		return v.Seq > o.Seq
	}
	a, _ := v.MarshalBinary()
	b, _ := o.MarshalBinary()
	return bytes.Compare(a, b) > 0
}

// SeqAt returns the sequence number a writer uses at time t when it has
// seen no newer record: t in Unix milliseconds, at least 1.
func SeqAt(t time.Time) uint64 { return uint64(max(t.UnixMilli(), 1)) }

// NextSeq returns the sequence number of a record written at now after
// newest (0: none seen): SeqAt(now), or newest+1 when that is not above
// newest. It fails with ErrVersionAhead when newest is so far ahead of now
// that the record would be refused; the error says when it would not be.
func NextSeq(newest uint64, now time.Time) (uint64, error) {
	if limit := SeqAt(now.Add(MaxVersionLead)); newest >= limit {
		return 0, badRecord("%w: the newest record's sequence number %d is %v ahead of this clock; a newer one can be published in %v",
			ErrVersionAhead, newest, millis(newest-SeqAt(now)), millis(newest-limit+1))
	}
	return max(SeqAt(now), newest+1), nil
}

// millis returns n milliseconds as a Duration, the largest Duration if it
// has no room for them.
func millis(n uint64) time.Duration {
	if n > uint64(math.MaxInt64/time.Millisecond) {
		return math.MaxInt64
	}
	return time.Duration(n) * time.Millisecond
}

// VersionValidator checks version records where they are stored, the way
// IPNS records are checked: it has the method set of the libp2p record
// validator, so a DHT can keep only records whose signature holds, whose
// key matches and whose sequence number is not ahead of the clock by more
// than MaxVersionLead, and keep the newest of several.
type VersionValidator struct {
	// Now is the clock sequence numbers are checked against (nil:
	// time.Now).
	Now func() time.Time
}

// Validate checks that value is a well-formed record, signed by the key
// that key names, for the original manifest that key names, and not ahead
// of the validator's clock by more than MaxVersionLead.
func (vv VersionValidator) Validate(key string, value []byte) error {
	v, err := ParseVersionRecord(value)
	if err != nil {
		return err
	}
	if v.Key() != key {
		return badRecord("record for manifest %s and updater %x stored under another key", v.Original, v.Updater[:8])
	}
	now := time.Now
	if vv.Now != nil {
		now = vv.Now
	}
	if t := now(); v.Seq > SeqAt(t.Add(MaxVersionLead)) {
		return badRecord("%w: sequence number %d is %v ahead of this peer's clock, more than %v",
			ErrVersionAhead, v.Seq, millis(v.Seq-SeqAt(t)), MaxVersionLead)
	}
	return nil
}

// Select returns the index of the newest valid record among values. It
// fails when none is valid.
func (vv VersionValidator) Select(key string, values [][]byte) (int, error) {
	best, bestRec := -1, (*VersionRecord)(nil)
	for i, b := range values {
		if vv.Validate(key, b) != nil {
			continue
		}
		v, _ := ParseVersionRecord(b)
		if bestRec == nil || v.Newer(bestRec) {
			best, bestRec = i, v
		}
	}
	if best < 0 {
		return 0, badRecord("none of %d records is valid", len(values))
	}
	return best, nil
}
