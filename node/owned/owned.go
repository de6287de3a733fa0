package owned

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-cid"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/pebblelog"
	"github.com/dsn-project/dsn/manifest"
)

// Errors.
var (
	// ErrNotFound is returned for a file the node did not store.
	ErrNotFound = errors.New("no such file among those this node stored")
	// ErrCorrupt is returned when a record read back cannot be decoded.
	ErrCorrupt = errors.New("corrupt owner record")
	// ErrTooLarge is returned by Add for a record over the bound records
	// are read back with; no manifest within manifest.MaxSize makes one.
	ErrTooLarge = errors.New("owner record too large")
)

// Pebble keys:
//
//	f <manifest CID bytes>                       -> fileRecord (JSON)
//	a <manifest CID bytes> 0x00 <segment u32> <shard u16> -> Health (JSON)
//
// A CID's binary form is self-delimiting but a prefix scan over one file's
// audits needs a terminator that no CID byte sequence ends with a prefix
// of another: the 0x00 after the CID bytes is that separator, and every
// key of one file shares the prefix "a" + CID + 0x00.
const (
	filePrefix  = 'f'
	auditPrefix = 'a'
)

// recordVersion is the version of the JSON records; a record with another
// version is refused rather than misread.
const recordVersion = 1

// Bounds on records read back, so a damaged database cannot make the node
// allocate without limit. A file record is JSON, in which the manifest
// and the version record are base64: a third larger than their bytes.
// Add refuses a record over the bound, so that it never writes one that
// Get would then refuse.
var maxRecord = base64.StdEncoding.EncodedLen(manifest.MaxSize) + base64.StdEncoding.EncodedLen(manifest.MaxVersionRecordSize) + 4<<10

const maxReason = 512

// File is a file this node stored.
type File struct {
	Reference manifest.Reference
	// Manifest is the file's newest manifest: the one Reference names,
	// or the latest version published after a repair.
	Manifest *manifest.Manifest
	Stored   time.Time
	// Cap is a public file's repair capability, which is random and
	// exists nowhere else; nil for a private file, whose capability is
	// derived from Reference (see RepairCap), or when none was kept.
	Cap *manifest.RepairCap
	// Version is the newest version record of the manifest this node
	// published or republished; nil before the first repair.
	Version []byte
}

// RepairCap returns the file's repair capability: derived from the
// reference for a private file, the kept one for a public file.
func (f *File) RepairCap() (manifest.RepairCap, bool) {
	if rc, ok := f.Reference.RepairCap(); ok {
		return rc, true
	}
	if f.Cap != nil {
		return *f.Cap, true
	}
	return manifest.RepairCap{}, false
}

type fileRecord struct {
	Version   int       `json:"v"`
	Reference string    `json:"reference"`
	Manifest  []byte    `json:"manifest"` // canonical binary encoding
	Stored    time.Time `json:"stored"`
	Cap       string    `json:"cap,omitempty"`
	Record    []byte    `json:"version_record,omitempty"`
}

// Outcome is the result of one challenge.
type Outcome string

// Outcomes.
const (
	Pass   Outcome = "pass"   // a proof that verifies, in time
	Fail   Outcome = "fail"   // a wrong, malformed or refused proof
	Missed Outcome = "missed" // no answer before the deadline
)

// Audit is one challenge of one shard and what came of it.
type Audit struct {
	Epoch    uint64     `json:"epoch"`
	Time     time.Time  `json:"time"`
	Scheme   string     `json:"scheme"`
	Provider dsn.PeerID `json:"-"`
	// ProviderBytes carries Provider in JSON: a peer ID is binary (a
	// libp2p ID's bytes), which JSON strings would mangle.
	ProviderBytes []byte        `json:"provider"`
	Outcome       Outcome       `json:"outcome"`
	Latency       time.Duration `json:"latency"`
	ProofBytes    int           `json:"proof_bytes"`
	Reason        string        `json:"reason,omitempty"`
}

// Health is the audit history of one shard.
type Health struct {
	Version int `json:"v"`
	Segment int `json:"segment"`
	Shard   int `json:"shard"`
	// Passes, Fails and Misses count every audit of the shard on its
	// current provider; they restart when the provider changes.
	Passes uint64 `json:"passes"`
	Fails  uint64 `json:"fails"`
	Misses uint64 `json:"misses"`
	// Last is the latest audit; nil before the first.
	Last *Audit `json:"last,omitempty"`
}

// DB is the owner's record store. It is safe for concurrent use.
type DB struct {
	db *pebble.DB
	mu sync.Mutex // serializes read-modify-write of Health records
}

// Open opens (creating if needed) the records in dir.
func Open(dir string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.Default()
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.New(log, "owned")})
	if err != nil {
		return nil, fmt.Errorf("open owner records %s: %w", dir, err)
	}
	return &DB{db: db}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func fileKey(c cid.Cid) []byte { return append([]byte{filePrefix}, c.Bytes()...) }

func auditFilePrefix(c cid.Cid) []byte {
	k := append([]byte{auditPrefix}, c.Bytes()...)
	return append(k, 0)
}

func auditKey(c cid.Cid, seg, shard int) []byte {
	k := auditFilePrefix(c)
	k = binary.BigEndian.AppendUint32(k, uint32(seg))
	return binary.BigEndian.AppendUint16(k, uint16(shard))
}

// Add records a stored file. Adding a file again replaces its record
// and keeps its audit history.
func (d *DB) Add(f File) error {
	mb, err := f.Manifest.MarshalBinary()
	if err != nil {
		return fmt.Errorf("record file %s: %w", f.Reference.Manifest, err)
	}
	r := fileRecord{Version: recordVersion, Reference: f.Reference.String(), Manifest: mb, Stored: f.Stored.UTC(), Record: f.Version}
	if f.Cap != nil {
		r.Cap = f.Cap.String()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("record file %s: %w", f.Reference.Manifest, err)
	}
	if len(b) > maxRecord {
		return fmt.Errorf("record file %s: %w: record of %d bytes, more than %d", f.Reference.Manifest, ErrTooLarge, len(b), maxRecord)
	}
	if err := d.db.Set(fileKey(f.Reference.Manifest), b, pebble.Sync); err != nil {
		return fmt.Errorf("record file %s: %w", f.Reference.Manifest, err)
	}
	return nil
}

// Get returns the record of the file whose manifest is c.
func (d *DB) Get(c cid.Cid) (*File, error) {
	v, closer, err := d.db.Get(fileKey(c))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("file %s: %w", c, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", c, err)
	}
	defer closer.Close()
	f, err := decodeFile(v)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", c, err)
	}
	return f, nil
}

// decodeFile decodes a file record; every field is checked.
func decodeFile(b []byte) (*File, error) {
	if len(b) > maxRecord {
		return nil, fmt.Errorf("%w: file record of %d bytes", ErrCorrupt, len(b))
	}
	var r fileRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if r.Version != recordVersion {
		return nil, fmt.Errorf("%w: file record version %d, want %d", ErrCorrupt, r.Version, recordVersion)
	}
	ref, err := manifest.ParseReference(r.Reference)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var m manifest.Manifest
	if err := m.UnmarshalBinary(r.Manifest); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	f := &File{Reference: ref, Manifest: &m, Stored: r.Stored}
	if r.Cap != "" {
		rc, err := manifest.ParseRepairCap(r.Cap)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		f.Cap = &rc
	}
	if r.Record != nil {
		if _, err := manifest.ParseVersionRecord(r.Record); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		f.Version = r.Record
	}
	return f, nil
}

// Files returns every file this node stored, in manifest CID byte order.
// A record that cannot be decoded is reported through bad and skipped, so
// one damaged record does not hide the others.
func (d *DB) Files(bad func(key []byte, err error)) ([]*File, error) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{filePrefix}, UpperBound: []byte{filePrefix + 1}})
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	var out []*File
	for ok := it.First(); ok; ok = it.Next() {
		f, err := decodeFile(it.Value())
		if err == nil && !fileKeyMatches(it.Key(), f.Reference.Manifest) {
			err = fmt.Errorf("%w: record under the wrong key", ErrCorrupt)
		}
		if err != nil {
			if bad != nil {
				bad(append([]byte(nil), it.Key()...), err)
			}
			continue
		}
		out = append(out, f)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	return out, nil
}

func fileKeyMatches(k []byte, c cid.Cid) bool { return string(k) == string(fileKey(c)) }

// RecordAudit adds one audit of shard (seg, shard) of file c to its
// history.
func (d *DB) RecordAudit(c cid.Cid, seg, shard int, a Audit) error {
	if len(a.Reason) > maxReason {
		a.Reason = a.Reason[:maxReason]
	}
	a.Time = a.Time.UTC()
	d.mu.Lock()
	defer d.mu.Unlock()
	h, err := d.health(c, seg, shard)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if h.Last != nil && h.Last.Provider != a.Provider {
		// A new holder starts with a clean history.
		h = Health{Segment: seg, Shard: shard}
	}
	switch a.Outcome {
	case Pass:
		h.Passes++
	case Fail:
		h.Fails++
	case Missed:
		h.Misses++
	default:
		return fmt.Errorf("record audit: unknown outcome %q", a.Outcome)
	}
	h.Version, h.Segment, h.Shard = recordVersion, seg, shard
	a.ProviderBytes = []byte(a.Provider)
	h.Last = &a
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	// Not synced: an audit lost in a crash is redone next epoch, and the
	// epoch's many records would otherwise cost one fsync each.
	if err := d.db.Set(auditKey(c, seg, shard), b, pebble.NoSync); err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	return nil
}

func (d *DB) health(c cid.Cid, seg, shard int) (Health, error) {
	v, closer, err := d.db.Get(auditKey(c, seg, shard))
	if errors.Is(err, pebble.ErrNotFound) {
		return Health{Segment: seg, Shard: shard}, ErrNotFound
	}
	if err != nil {
		return Health{}, fmt.Errorf("audit history of %s %d/%d: %w", c, seg, shard, err)
	}
	defer closer.Close()
	h, err := decodeHealth(v)
	if err != nil {
		return Health{}, fmt.Errorf("audit history of %s %d/%d: %w", c, seg, shard, err)
	}
	return h, nil
}

func decodeHealth(b []byte) (Health, error) {
	if len(b) > 4<<10 {
		return Health{}, fmt.Errorf("%w: audit record of %d bytes", ErrCorrupt, len(b))
	}
	var h Health
	if err := json.Unmarshal(b, &h); err != nil {
		return Health{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if h.Version != recordVersion || h.Segment < 0 || h.Shard < 0 {
		return Health{}, fmt.Errorf("%w: audit record version %d, shard %d/%d", ErrCorrupt, h.Version, h.Segment, h.Shard)
	}
	if h.Last != nil {
		if len(h.Last.ProviderBytes) > dsn.MaxPeerIDSize {
			return Health{}, fmt.Errorf("%w: provider of %d bytes", ErrCorrupt, len(h.Last.ProviderBytes))
		}
		h.Last.Provider = dsn.PeerID(h.Last.ProviderBytes)
	}
	return h, nil
}

// Health returns the audit history of every shard of file c that has
// been audited, in segment and shard order. A damaged record is returned
// as an error, naming the shard.
func (d *DB) Health(c cid.Cid) ([]Health, error) {
	p := auditFilePrefix(c)
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: append(append([]byte(nil), p[:len(p)-1]...), 1)})
	if err != nil {
		return nil, fmt.Errorf("audit history of %s: %w", c, err)
	}
	var out []Health
	var derr error
	for ok := it.First(); ok; ok = it.Next() {
		h, err := decodeHealth(it.Value())
		if err != nil {
			derr = fmt.Errorf("audit history of %s, key %x: %w", c, it.Key(), err)
			break
		}
		out = append(out, h)
	}
	if err := it.Close(); err != nil && derr == nil {
		derr = fmt.Errorf("audit history of %s: %w", c, err)
	}
	return out, derr
}
