package ledger

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn/internal/pebblelog"
)

// MaxBatch bounds the entries of one AppendBatch, so that one call's
// signatures and pebble batch stay a few MiB.
const MaxBatch = 1 << 16

// Options tune Open. The zero value is what a node uses.
type Options struct {
	// Logger receives pebble's log lines; nil means slog.Default().
	Logger *slog.Logger
	// FS is the filesystem pebble uses; nil means the OS's. Tests pass
	// an in-memory or fault-injecting one.
	FS vfs.FS
}

// Log is one node's append-only ledger. It is safe for concurrent use;
// appends are serialized.
type Log struct {
	dir   string
	fs    vfs.FS
	log   *slog.Logger
	key   ed25519.PrivateKey
	owner PublicKey
	db    *pebble.DB

	// verifyMu serializes Verify calls, which share a scratch store.
	verifyMu sync.Mutex

	mu     sync.Mutex
	closed bool
	size   int64
	// edge holds the last stored hash written at each tree level: the
	// only hashes appending and TreeHash need, so appends do not read
	// hashes back from pebble.
	edge edge
	// last is the latest published checkpoint; Size -1 before the first.
	last    Checkpoint
	nextSeq uint64
}

// edge is the right edge of the tree: per level, the stored hash index
// and hash of the latest complete subtree.
type edge struct {
	idx  [64]int64
	hash [64]tlog.Hash
}

func newEdge() edge {
	var e edge
	for i := range e.idx {
		e.idx[i] = -1
	}
	return e
}

// put records stored hashes written from index start on.
func (e *edge) put(start int64, hs []tlog.Hash) {
	for i, h := range hs {
		lvl, _ := tlog.SplitStoredHashIndex(start + int64(i))
		e.idx[lvl], e.hash[lvl] = start+int64(i), h
	}
}

// reader serves hashes from the edge, falling back to r.
func (e *edge) reader(r reader) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			lvl, _ := tlog.SplitStoredHashIndex(x)
			if e.idx[lvl] == x {
				out[i] = e.hash[lvl]
				continue
			}
			h, err := readHash(r, x)
			if err != nil {
				return nil, err
			}
			out[i] = h
		}
		return out, nil
	})
}

func readHash(r reader, x int64) (tlog.Hash, error) {
	var h tlog.Hash
	v, err := get(r, u64Key(keyHash, uint64(x)))
	if err != nil {
		return h, err
	}
	if len(v) != tlog.HashSize {
		return h, fmt.Errorf("%w: stored hash %d of %d bytes", ErrCorrupt, x, len(v))
	}
	copy(h[:], v)
	return h, nil
}

// Open opens (creating if needed) the log in dir, owned by key: the
// node's identity key, which signs its checkpoints. A log created by
// another key is refused with ErrOwner.
func Open(dir string, key ed25519.PrivateKey, opts *Options) (*Log, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("open ledger %s: private key of %d bytes: %w", dir, len(key), ErrWrongKey)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.New(o.Logger, "ledger"), FS: o.FS})
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	l := &Log{dir: dir, fs: o.FS, log: o.Logger, key: key, owner: PublicKeyOf(key), db: db, edge: newEdge()}
	if err := l.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) load() error {
	v, err := get(l.db, []byte{keyOwner})
	if err != nil {
		return err
	}
	switch {
	case v == nil:
		if err := l.db.Set([]byte{keyOwner}, l.owner[:], pebble.Sync); err != nil {
			return err
		}
	case string(v) != string(l.owner[:]):
		return fmt.Errorf("%w: created by %x, opened with %s", ErrOwner, v, l.owner.Short())
	}
	if l.size, err = readSize(l.db); err != nil {
		return err
	}
	l.last = Checkpoint{Size: -1}
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{keyCheckpoint}, UpperBound: []byte{keyCheckpoint + 1}})
	if err != nil {
		return err
	}
	if it.Last() {
		if len(it.Key()) != 9 {
			it.Close()
			return fmt.Errorf("%w: checkpoint key %x", ErrCorrupt, it.Key())
		}
		l.nextSeq = binary.BigEndian.Uint64(it.Key()[1:]) + 1
		if l.last, err = VerifyCheckpoint(it.Value(), l.owner); err != nil {
			it.Close()
			return fmt.Errorf("latest checkpoint: %w", err)
		}
	}
	return it.Close()
}

func readSize(r reader) (int64, error) {
	v, err := get(r, []byte{keySize})
	if err != nil || v == nil {
		return 0, err
	}
	if len(v) != 8 || binary.BigEndian.Uint64(v) > 1<<62 {
		return 0, fmt.Errorf("%w: size record %x", ErrCorrupt, v)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Close closes the log.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.db.Close()
}

// Owner is the key that owns the log and signs its checkpoints.
func (l *Log) Owner() PublicKey { return l.owner }

// Size is the number of entries in the log.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Append validates e and appends it durably, returning its index. See
// AppendBatch for the checks.
func (l *Log) Append(e Entry) (int64, error) {
	first, err := l.AppendBatch([]Entry{e})
	if err != nil {
		return 0, err
	}
	return first, nil
}

// AppendBatch validates entries and appends them, in order, with one
// synced pebble commit: either all are appended and durable, or none is.
// It returns the index of the first. Each entry must be well formed,
// carry valid signatures by the parties who must sign it, name the
// log's owner as a party, and agree with the entries before it, those
// earlier in the same batch included (see the package documentation for
// the rules). The error names the first refused entry's position in the
// batch and wraps the rule's sentinel.
func (l *Log) AppendBatch(entries []Entry) (int64, error) {
	if len(entries) == 0 {
		return 0, errors.New("append: no entries")
	}
	if len(entries) > MaxBatch {
		return 0, fmt.Errorf("append: %d entries, at most %d: %w", len(entries), MaxBatch, ErrTooLarge)
	}
	// Encoding and signature checks need no lock: they are most of the
	// work, and concurrent appenders can overlap them.
	encs := make([][]byte, len(entries))
	var items []sigItem
	owners := make([]int, 0, len(entries)+1) // entry of each item
	r := rules{owner: l.owner}
	for i, e := range entries {
		if e == nil {
			return 0, fmt.Errorf("append entry %d: nil: %w", i, ErrMalformed)
		}
		b, err := e.AppendBinary(nil)
		if err != nil {
			return 0, fmt.Errorf("append entry %d (%s): %w", i, e.Kind(), err)
		}
		if len(b) > MaxEntrySize {
			return 0, fmt.Errorf("append entry %d (%s): %d bytes: %w", i, e.Kind(), len(b), ErrTooLarge)
		}
		if err := r.party(e); err != nil {
			return 0, fmt.Errorf("append entry %d: %w", i, err)
		}
		encs[i] = b
		for _, it := range e.sigs(b[:len(b)-sigBytes(e)]) {
			items = append(items, it)
			owners = append(owners, i)
		}
	}
	for j, ok := range verifySigs(items) {
		if !ok {
			i := owners[j]
			return 0, fmt.Errorf("append entry %d: %w: %s signature of %s %s", i, ErrBadSignature, entries[i].Kind(), items[j].who, items[j].pub.Short())
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	b := l.db.NewIndexedBatch()
	defer b.Close()
	r.s = b
	edge := l.edge // applied only once the commit succeeds
	n := l.size
	for i, e := range entries {
		if err := r.apply(e, n); err != nil {
			return 0, fmt.Errorf("append entry %d (%s): %w", i, e.Kind(), err)
		}
		if err := writeEntry(b, &edge, n, encs[i]); err != nil {
			return 0, fmt.Errorf("append entry %d: %w", i, err)
		}
		n++
	}
	if err := b.Set([]byte{keySize}, binary.BigEndian.AppendUint64(nil, uint64(n)), nil); err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	first := l.size
	l.size, l.edge = n, edge
	return first, nil
}

// writeEntry stores entry n and its tree hashes.
func writeEntry(b kv, edge *edge, n int64, enc []byte) error {
	hs, err := tlog.StoredHashes(n, enc, edge.reader(b))
	if err != nil {
		return err
	}
	if err := b.Set(u64Key(keyEntry, uint64(n)), enc, nil); err != nil {
		return err
	}
	start := tlog.StoredHashIndex(0, n)
	for i, h := range hs {
		if err := b.Set(u64Key(keyHash, uint64(start+int64(i))), h[:], nil); err != nil {
			return err
		}
	}
	edge.put(start, hs)
	return nil
}

func sigBytes(e Entry) int {
	if e.Kind() == KindDeal {
		return 2 * ed25519.SignatureSize
	}
	return ed25519.SignatureSize
}

// Entry returns the bytes of the entry at index i.
func (l *Log) Entry(i int64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if i < 0 || i >= l.size {
		return nil, fmt.Errorf("entry %d of %d: %w", i, l.size, ErrNotFound)
	}
	v, err := get(l.db, u64Key(keyEntry, uint64(i)))
	if err != nil {
		return nil, fmt.Errorf("entry %d: %w", i, err)
	}
	if v == nil {
		return nil, fmt.Errorf("entry %d: %w", i, ErrMissing)
	}
	return v, nil
}

// hashes returns a reader of the log's stored hashes. Callers hold mu.
func (l *Log) hashes() tlog.HashReader { return l.edge.reader(l.db) }

// rootHash returns the tree hash at size n. Callers hold mu.
func (l *Log) rootHash(n int64) (tlog.Hash, error) { return tlog.TreeHash(n, l.hashes()) }
