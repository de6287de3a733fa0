package shardstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/directio"
	"github.com/dsn-project/dsn/internal/pebblelog"
)

// Options configures Open.
type Options struct {
	// FS is the file system for both the pebble index and the shard files
	// (nil: vfs.Default), so tests can crash or inject errors into both at
	// once.
	FS vfs.FS
	// Capacity is the most bytes the store's shards may take on disk
	// (0: unlimited), each counted as Charge of its size plus its sidecar
	// bytes beyond SidecarAllowance (see charge.go).
	Capacity int64
	// Logger receives recovery reports and pebble's messages (nil:
	// slog.Default()).
	Logger *slog.Logger
	// Pebble, if set, is cloned and used for the index; its FS and Logger
	// are replaced by the ones above. Tests use it to shrink caches; nil
	// means pebble's defaults.
	Pebble *pebble.Options
	// Sidecars, if set, gives the builders of the sidecars every shard
	// received gets: each sees the shard's verified bytes as they arrive,
	// and its sidecar is committed with the shard's index entry. Proof
	// material is built this way without reading the shard back.
	Sidecars func(id dsn.ShardID, size int64) []SidecarBuilder
	// BufferedWrites writes shards through the page cache even where the
	// file system takes O_DIRECT. Direct writes cost the kernel less CPU
	// and leave the cache to what is read again, but a shard read soon
	// after it arrived then comes from the disk rather than from memory
	// (docs/benchmarks.md has both).
	BufferedWrites bool
}

// BuildsSidecars reports whether the store builds sidecars for the shards
// it receives (Options.Sidecars).
func (s *Store) BuildsSidecars() bool { return s.sidecars != nil }

// SidecarBuilder is fed a shard's bytes as they are received, in order,
// and then gives the sidecar to keep with the shard.
type SidecarBuilder interface {
	io.Writer
	// Sidecar returns the sidecar's name and value once every byte of
	// the shard id has been written.
	Sidecar(id dsn.ShardID) (name string, value []byte, err error)
}

// HashingBuilder is a SidecarBuilder that also computes, from the bytes it
// is fed, the BLAKE3-256 hash a ShardID is (a Merkle outboard does so on
// its way to its root). When one of a receive's builders is a
// HashingBuilder, the store checks the shard against its ID with that hash
// instead of hashing the same bytes a second time: on a provider the hash
// check and the outboard were two passes over every byte received. The
// check itself, its errors and when it happens are the same as with
// dsn.VerifyReader.
type HashingBuilder interface {
	SidecarBuilder
	// Root returns the BLAKE3-256 hash of the bytes written so far.
	Root() dsn.ShardID
}

// Directory layout under the store's root.
const (
	shardsDirName = "shards" // shards/<2 hex>/<64 hex>
	tmpDirName    = "tmp"    // files being received; emptied by Open
	indexDirName  = "index"  // pebble
)

// copyBufSize is the unit ReceiveShard reads, writes and checks ctx in.
const copyBufSize = 1 << 20

// writebackEvery is how often a receive asks the kernel to start writing
// the temp file back (see writeTemp).
const writebackEvery = 4 << 20

// copyBufs hold copyBufSize bytes aligned for O_DIRECT.
var copyBufs = sync.Pool{New: func() any {
	b := directio.Alloc(copyBufSize)
	return &b
}}

// Store is a shard store on disk: one file per shard, indexed in pebble.
// It is safe for concurrent use.
type Store struct {
	fs        vfs.FS
	dir       string
	shardsDir string
	tmpDir    string
	capacity  int64
	log       *slog.Logger
	sidecars  func(id dsn.ShardID, size int64) []SidecarBuilder
	tmpSeq    atomic.Uint64
	// rangedWriteback is cleared once SyncTo turns out to be a full sync.
	rangedWriteback atomic.Bool
	// directIO is cleared once the file system turns out to refuse
	// O_DIRECT (see writeTemp).
	directIO atomic.Bool

	// dbMu is read-held around every use of db and write-held by Close, so
	// pebble is never used after it is closed. It is not held while shard
	// bytes are read from the caller, so Close never waits on a slow peer.
	dbMu   sync.RWMutex
	db     *pebble.DB
	closed bool

	// commitMu orders index commits: each batch carries the usage record
	// computed from the one before it, so they must apply one at a time.
	commitMu sync.Mutex

	mu       sync.Mutex
	usage    usageRecord // committed; equal to the record in pebble
	reserved int64       // charges of receives in flight
	idLocks  map[dsn.ShardID]*idLock
}

// idLock serializes the commit of a receive and a removal of the same
// shard, so a removal cannot delete a file that a receive just put in place.
type idLock struct {
	mu   sync.Mutex
	refs int
}

var _ dsn.ShardStore = (*Store)(nil)

// Open opens the store in dir, creating it if needed, and repairs whatever
// a crash left behind (see recover). Only one Store may have dir open at a
// time; pebble's lock file enforces it.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Capacity < 0 {
		return nil, fmt.Errorf("open shard store %s: negative capacity %d", dir, opts.Capacity)
	}
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("store", dir)
	s := &Store{
		fs:        fs,
		dir:       dir,
		shardsDir: fs.PathJoin(dir, shardsDirName),
		tmpDir:    fs.PathJoin(dir, tmpDirName),
		capacity:  opts.Capacity,
		log:       log,
		sidecars:  opts.Sidecars,
		idLocks:   make(map[dsn.ShardID]*idLock),
	}
	s.rangedWriteback.Store(true)
	s.directIO.Store(!opts.BufferedWrites)
	reindex, err := s.needsReindex()
	if err != nil {
		return nil, fmt.Errorf("open shard store %s: %w", dir, err)
	}
	if err := s.makeDirs(); err != nil {
		return nil, fmt.Errorf("open shard store %s: %w", dir, err)
	}
	po := &pebble.Options{}
	if opts.Pebble != nil {
		po = opts.Pebble.Clone()
	}
	po.FS = fs
	po.Logger = pebblelog.New(log, "pebble")
	if po.FormatMajorVersion == 0 {
		po.FormatMajorVersion = pebble.FormatNewest
	}
	db, err := pebble.Open(fs.PathJoin(dir, indexDirName), po)
	if err != nil {
		return nil, fmt.Errorf("open shard store %s: index: %w", dir, err)
	}
	s.db = db
	if err := s.recover(reindex); err != nil {
		db.Close()
		return nil, fmt.Errorf("open shard store %s: recover: %w", dir, err)
	}
	if reindex {
		if err := s.fs.Remove(s.fs.PathJoin(dir, reindexMarker)); err != nil && !isNotExist(err) {
			db.Close()
			return nil, fmt.Errorf("open shard store %s: %w", dir, err)
		}
		if err := syncDir(s.fs, dir); err != nil {
			db.Close()
			return nil, fmt.Errorf("open shard store %s: %w", dir, err)
		}
	}
	return s, nil
}

// reindexMarker is a file in the store's root that says the index must be
// rebuilt from the shard files. It is written, synced, before a new index
// is created beside existing shard files, and removed once recovery has
// indexed them all; a crash in between leaves it, and the next Open goes
// on re-indexing instead of taking the half-built index for the truth and
// deleting the files it lacks as unacknowledged.
const reindexMarker = "REINDEX"

// needsReindex reports whether Open must rebuild the index from the shard
// files: the index is missing or empty (removed by an operator after
// corruption, or only shards/ was restored) while shards/ exists, or an
// earlier re-index did not finish. In the first case it writes the marker.
func (s *Store) needsReindex() (bool, error) {
	marker := s.fs.PathJoin(s.dir, reindexMarker)
	if _, err := s.fs.Stat(marker); err == nil {
		s.log.Warn("an earlier rebuild of the index did not finish; resuming it")
		return true, nil
	} else if !isNotExist(err) {
		return false, fmt.Errorf("stat %s: %w", marker, err)
	}
	if _, err := s.fs.Stat(s.shardsDir); isNotExist(err) {
		return false, nil // a new store: nothing to re-index
	} else if err != nil {
		return false, fmt.Errorf("stat %s: %w", s.shardsDir, err)
	}
	indexDir := s.fs.PathJoin(s.dir, indexDirName)
	names, err := s.fs.List(indexDir)
	if err != nil && !isNotExist(err) {
		return false, fmt.Errorf("list %s: %w", indexDir, err)
	}
	if len(names) > 0 {
		return false, nil
	}
	s.log.Warn("shard index missing; rebuilding it from the shard files", "index", indexDir)
	f, err := s.fs.Create(marker, vfs.WriteCategoryUnspecified)
	if err != nil {
		return false, fmt.Errorf("create %s: %w", marker, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("sync %s: %w", marker, err)
	}
	if err := syncDir(s.fs, s.dir); err != nil {
		return false, err
	}
	return true, nil
}

// makeDirs creates the layout, including all 256 fan-out directories, so
// that receiving never has to create (and sync) a directory.
func (s *Store) makeDirs() error {
	if err := mkdirDurable(s.fs, s.dir); err != nil {
		return err
	}
	if err := mkdirDurable(s.fs, s.tmpDir); err != nil {
		return err
	}
	if err := mkdirDurable(s.fs, s.shardsDir); err != nil {
		return err
	}
	created := false
	for i := range 256 {
		sub := s.fs.PathJoin(s.shardsDir, fmt.Sprintf("%02x", i))
		if _, err := s.fs.Stat(sub); err == nil {
			continue
		} else if !isNotExist(err) {
			return fmt.Errorf("stat %s: %w", sub, err)
		}
		if err := s.fs.MkdirAll(sub, 0o755); err != nil {
			return fmt.Errorf("create dir %s: %w", sub, err)
		}
		created = true
	}
	// One sync of the parent covers all the new fan-out directories.
	if created {
		return syncDir(s.fs, s.shardsDir)
	}
	return nil
}

func (s *Store) shardDir(id dsn.ShardID) string {
	return s.fs.PathJoin(s.shardsDir, id.String()[:2])
}

func (s *Store) shardPath(id dsn.ShardID) string {
	return s.fs.PathJoin(s.shardDir(id), id.String())
}

func (s *Store) lockID(id dsn.ShardID) *idLock {
	s.mu.Lock()
	l := s.idLocks[id]
	if l == nil {
		l = &idLock{}
		s.idLocks[id] = l
	}
	l.refs++
	s.mu.Unlock()
	l.mu.Lock()
	return l
}

func (s *Store) unlockID(id dsn.ShardID, l *idLock) {
	l.mu.Unlock()
	s.mu.Lock()
	if l.refs--; l.refs == 0 {
		delete(s.idLocks, id)
	}
	s.mu.Unlock()
}

// getEntry reads the index entry of id. The caller holds dbMu for reading
// and has checked closed.
func (s *Store) getEntry(id dsn.ShardID) (indexEntry, error) {
	v, closer, err := s.db.Get(shardKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return indexEntry{}, dsn.ErrShardNotFound
	}
	if err != nil {
		return indexEntry{}, fmt.Errorf("read index: %w", err)
	}
	defer closer.Close()
	return decodeIndexEntry(v)
}

// entry reads the index entry of id, taking dbMu.
func (s *Store) entry(id dsn.ShardID) (indexEntry, error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return indexEntry{}, dsn.ErrClosed
	}
	return s.getEntry(id)
}

// reserve claims n bytes of capacity (a charge, see charge.go) for a
// receive in flight.
func (s *Store) reserve(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fitsLocked(n); err != nil {
		return err
	}
	s.reserved += n
	return nil
}

// fitsLocked reports, with s.mu held, whether n more bytes of charge fit
// beside what is committed and reserved.
func (s *Store) fitsLocked(n int64) error {
	if s.capacity > 0 && n > s.capacity-s.usage.Used-s.reserved {
		return fmt.Errorf("%d bytes wanted on disk, %d of %d free (%d in flight): %w",
			n, max(0, s.capacity-s.usage.Used-s.reserved), s.capacity, s.reserved, dsn.ErrNoSpace)
	}
	return nil
}

func (s *Store) release(size int64) {
	s.mu.Lock()
	s.reserved -= size
	s.mu.Unlock()
}

// ReceiveShard stores the size bytes read from r as shard id, through
// dsn.VerifyReader. It returns nil only after the file is fsync-ed, renamed
// into place, its directory fsync-ed and the index entry committed with a
// synced pebble batch. On error nothing is kept and the reservation is
// released.
//
// If the shard is already held, ReceiveShard returns nil at once without
// reading r: the held copy was verified when it came in, so reading the
// new bytes would only cost time. A caller that frames shards in a stream
// must skip or discard the unread bytes itself. Claiming a held shard with
// another size fails with dsn.ErrShardSize, since no such bytes can hash to
// id.
func (s *Store) ReceiveShard(ctx context.Context, id dsn.ShardID, size int64, r io.Reader) error {
	if size < 0 || size > dsn.MaxShardSize {
		return fmt.Errorf("receive shard %s: size %d out of range [0, %d]: %w", id.Short(), size, int64(dsn.MaxShardSize), dsn.ErrShardSize)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("receive shard %s: %w", id.Short(), err)
	}
	switch e, err := s.entry(id); {
	case err == nil && e.Size != size:
		return fmt.Errorf("receive shard %s: held with size %d, offered with size %d: %w", id.Short(), e.Size, size, dsn.ErrShardSize)
	case err == nil:
		return nil
	case !errors.Is(err, dsn.ErrShardNotFound):
		return fmt.Errorf("receive shard %s: %w", id.Short(), err)
	}
	// The charge, not the size: a shard takes whole blocks and an inode
	// on disk however few its bytes (charge.go).
	reserved := Charge(size)
	if err := s.reserve(reserved); err != nil {
		return fmt.Errorf("receive shard %s: %w", id.Short(), err)
	}
	committed := false
	defer func() {
		if !committed {
			s.release(reserved)
		}
	}()
	var builders []SidecarBuilder
	if s.sidecars != nil {
		builders = s.sidecars(id, size)
	}
	tmp, err := s.writeTemp(ctx, id, size, r, builders)
	if err != nil {
		return fmt.Errorf("receive shard %s: %w", id.Short(), err)
	}
	sidecars, err := buildSidecars(id, builders)
	if err != nil {
		s.fs.Remove(tmp)
		return fmt.Errorf("receive shard %s: %w", id.Short(), err)
	}
	// Sidecars built beyond the shard's allowance are charged too, and
	// refuse the shard if they do not fit.
	var sidecarBytes int64
	for name, v := range sidecars {
		sidecarBytes += sidecarCost(name, len(v))
	}
	if extra := shardCharge(size, sidecarBytes) - reserved; extra > 0 {
		if err := s.reserve(extra); err != nil {
			s.fs.Remove(tmp)
			return fmt.Errorf("receive shard %s: sidecars: %w", id.Short(), err)
		}
		reserved += extra
	}
	// Whatever happens below, the temp name must go; after a successful
	// rename it no longer exists and Remove fails harmlessly.
	defer s.fs.Remove(tmp)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("receive shard %s: %w", id.Short(), err)
	}
	committed, err = s.commit(id, size, reserved, tmp, sidecars)
	if err != nil {
		return fmt.Errorf("receive shard %s: %w", id.Short(), err)
	}
	return nil
}

// writeTemp copies the verified bytes into a new file under tmp/ and syncs
// it. It returns the file's name only if the verifying reader reached
// io.EOF, that is, the bytes are complete and hash to id.
func (s *Store) writeTemp(ctx context.Context, id dsn.ShardID, size int64, r io.Reader, builders []SidecarBuilder) (_ string, err error) {
	name := s.fs.PathJoin(s.tmpDir, id.String()+"."+strconv.FormatUint(s.tmpSeq.Add(1), 10))
	f, err := s.fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return "", fmt.Errorf("create temp file: %w", err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			s.fs.Remove(name)
		}
	}()
	// Two buffers: while the writer goroutine writes one, this goroutine
	// reads and hashes into the other, so hashing overlaps the disk.
	w := newChunkWriter(s, f)
	vr := verifier(id, size, r, builders)
	var rerr error
	for rerr == nil {
		if err := ctx.Err(); err != nil {
			rerr = err
			break
		}
		if w.failed.Load() {
			break // the write error is reported by finish
		}
		buf := <-w.free
		// Whole buffers, so that every write but the last is a multiple
		// of the block size, as O_DIRECT needs.
		var n int
		for n < len(buf) && rerr == nil {
			var k int
			k, rerr = vr.Read(buf[n:])
			// The builders see each read's bytes before the next read
			// (a HashingBuilder's verifier counts on it), on this
			// goroutine, before the writer may reuse the buffer. Bytes
			// that turn out not to hash to id are never committed, so
			// neither is what the builders made of them.
			for _, b := range builders {
				b.Write(buf[n : n+k])
			}
			n += k
		}
		if n > 0 {
			w.full <- buf[:n]
		} else {
			w.free <- buf
		}
	}
	werr := w.finish()
	if rerr != io.EOF && rerr != nil {
		return "", rerr
	}
	if werr != nil {
		return "", werr
	}
	if rerr == nil {
		// The loop stops early only when the writer failed, and then werr
		// is set; say so rather than acknowledge unchecked bytes.
		return "", errors.New("receive loop stopped before the end of the shard")
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync temp file: %w", err)
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return "", fmt.Errorf("close temp file: %w", cerr)
	}
	return name, nil
}

// verifier returns the reader a receive takes the shard through: it yields
// io.EOF only once exactly size bytes were read and they hash to id. That
// is dsn.VerifyReader, unless a builder already hashes every byte (see
// HashingBuilder); then the builder's hash is compared instead.
func verifier(id dsn.ShardID, size int64, r io.Reader, builders []SidecarBuilder) io.Reader {
	for _, b := range builders {
		if h, ok := b.(HashingBuilder); ok {
			// The receive loop feeds every byte it gets to the builders
			// before its next Read, so they have seen them all by then.
			return dsn.VerifyHashedReader(id, size, r, h.Root)
		}
	}
	return dsn.VerifyReader(id, size, r)
}

// chunkWriter writes the chunks of one receive to its temp file on its own
// goroutine and starts their writeback.
type chunkWriter struct {
	s      *Store
	f      vfs.File
	bufs   [2]*[]byte
	free   chan []byte // empty buffers for the reader
	full   chan []byte // filled buffers for the writer
	done   chan error
	failed atomic.Bool
	// direct is true while the file is open with O_DIRECT.
	direct bool
}

func newChunkWriter(s *Store, f vfs.File) *chunkWriter {
	w := &chunkWriter{s: s, f: f, free: make(chan []byte, 2), full: make(chan []byte, 2), done: make(chan error, 1)}
	if fd := f.Fd(); fd != vfs.InvalidFd && s.directIO.Load() {
		// Shard bytes go from the buffers to the disk without a copy
		// into the page cache. A buffered write of a new file costs the
		// kernel several times the CPU of a direct one (the copy, block
		// allocation, writeback), and a provider receiving at hundreds of
		// MB/s has no CPU to spare; nor would a cache of shards written
		// once and read seldom earn its memory. The final Sync still
		// makes the data and the file's size durable.
		if err := directio.Set(fd, true); err == nil {
			w.direct = true
		} else {
			s.directIO.Store(false)
			s.log.Info("direct I/O refused; shards are written through the page cache", "err", err)
		}
	}
	for i := range w.bufs {
		w.bufs[i] = copyBufs.Get().(*[]byte)
		w.free <- *w.bufs[i]
	}
	go w.run()
	return w
}

func (w *chunkWriter) run() {
	var err error
	var written, queued int64
	for b := range w.full {
		if err == nil {
			err = w.write(b, &written, &queued)
			if err != nil {
				w.failed.Store(true)
			}
		}
		// Always hand the buffer back, so the reader never blocks on a
		// failed writer.
		w.free <- b[:cap(b)]
	}
	w.done <- err
}

func (w *chunkWriter) write(b []byte, written, queued *int64) error {
	if w.direct {
		return w.writeDirect(b, written)
	}
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("write temp file: %w", err)
	}
	*written += int64(len(b))
	if *written-*queued >= writebackEvery && w.s.rangedWriteback.Load() {
		// Start writing back what is written so far, so the disk works
		// while the next chunks are read and hashed and the final Sync has
		// little left to do. SyncTo reports a full sync where the file
		// system has no ranged writeback; that is slower than one sync at
		// the end, so stop asking.
		full, err := w.f.SyncTo(*written)
		if err != nil {
			return fmt.Errorf("write back temp file: %w", err)
		}
		if full {
			w.s.rangedWriteback.Store(false)
		}
		*queued = *written
	}
	return nil
}

// writeDirect writes b with O_DIRECT (directio.Write). Every chunk but a
// shard's last is a whole buffer, a multiple of directio.Align. A file
// system that accepts the flag but refuses the write gets the bytes
// written through the page cache instead, and no more direct writes.
func (w *chunkWriter) writeDirect(b []byte, written *int64) error {
	n, refused, err := directio.Write(w.f, b, &w.direct)
	*written += int64(n)
	if refused != nil {
		w.s.directIO.Store(false)
		w.s.log.Info("direct write refused; shards are written through the page cache", "err", refused)
	}
	if err != nil {
		return fmt.Errorf("write temp file: %w", err)
	}
	return nil
}

// finish waits for every queued chunk to be written and returns the first
// write error. The buffers go back to the pool.
func (w *chunkWriter) finish() error {
	close(w.full)
	err := <-w.done
	for _, bp := range w.bufs {
		copyBufs.Put(bp)
	}
	return err
}

// buildSidecars collects what the builders made of a received shard.
func buildSidecars(id dsn.ShardID, builders []SidecarBuilder) (map[string][]byte, error) {
	if len(builders) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(builders))
	for _, b := range builders {
		name, v, err := b.Sidecar(id)
		if err != nil {
			return nil, fmt.Errorf("build sidecar: %w", err)
		}
		if err := checkSidecarName(name); err != nil {
			return nil, err
		}
		if len(v) > MaxSidecarSize {
			return nil, fmt.Errorf("sidecar %s of %d bytes, at most %d", name, len(v), MaxSidecarSize)
		}
		out[name] = v
	}
	return out, nil
}

// commit moves the synced temp file into place and records it, with
// charge (the shard's charge with its sidecars, reserved by the caller) as
// its usage. It reports whether the reservation became committed usage.
func (s *Store) commit(id dsn.ShardID, size, charge int64, tmp string, sidecars map[string][]byte) (bool, error) {
	l := s.lockID(id)
	defer s.unlockID(id, l)
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return false, dsn.ErrClosed
	}
	// A concurrent receive of the same shard may have won.
	if _, err := s.getEntry(id); err == nil {
		return false, nil
	} else if !errors.Is(err, dsn.ErrShardNotFound) {
		return false, err
	}
	final := s.shardPath(id)
	if err := s.fs.Rename(tmp, final); err != nil {
		return false, fmt.Errorf("rename into place: %w", err)
	}
	// From here on, a failure must take the file away again: a file with no
	// index entry is garbage (and Open would delete it anyway).
	if err := syncDir(s.fs, s.shardDir(id)); err != nil {
		s.fs.Remove(final)
		return false, err
	}
	entry := indexEntry{Size: size, Received: time.Now()}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.mu.Lock()
	next := usageRecord{Shards: s.usage.Shards + 1, Used: s.usage.Used + charge}
	s.mu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	b.Set(shardKey(id), entry.encode(), nil)
	b.Set(usageKey, next.encode(), nil)
	for name, v := range sidecars {
		b.Set(sidecarKey(id, name), v, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		s.fs.Remove(final)
		return false, fmt.Errorf("commit index: %w", err)
	}
	s.mu.Lock()
	s.usage = next
	s.reserved -= charge
	s.mu.Unlock()
	return true, nil
}

// FetchShard opens length bytes of shard id from off (length < 0: to the
// end) and returns them with the shard's size. The reader streams from the
// file; it does not re-hash (callers verify at their boundary with
// dsn.VerifyReader, and a range cannot be checked against id alone).
func (s *Store) FetchShard(ctx context.Context, id dsn.ShardID, off, length int64) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("fetch shard %s: %w", id.Short(), err)
	}
	e, err := s.entry(id)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch shard %s: %w", id.Short(), err)
	}
	n, err := rangeLen(e.Size, off, length)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch shard %s: %w", id.Short(), err)
	}
	f, err := s.fs.Open(s.shardPath(id))
	if isNotExist(err) {
		// Removed between the index read and the open.
		return nil, 0, fmt.Errorf("fetch shard %s: %w", id.Short(), dsn.ErrShardNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("fetch shard %s: %w", id.Short(), err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("fetch shard %s: %w", id.Short(), err)
	}
	if fi.Size() != e.Size {
		f.Close()
		return nil, 0, fmt.Errorf("fetch shard %s: file holds %d bytes, index says %d: %w", id.Short(), fi.Size(), e.Size, dsn.ErrCorruptShard)
	}
	return &fileRange{SectionReader: io.NewSectionReader(f, off, n), f: f}, e.Size, nil
}

// rangeLen checks [off, off+length) against a shard of size bytes and
// returns the number of bytes to read.
func rangeLen(size, off, length int64) (int64, error) {
	if off < 0 || off > size {
		return 0, fmt.Errorf("offset %d outside shard of %d bytes: %w", off, size, dsn.ErrShardSize)
	}
	if length < 0 {
		return size - off, nil
	}
	if length > size-off {
		return 0, fmt.Errorf("range %d+%d beyond shard of %d bytes: %w", off, length, size, dsn.ErrShardSize)
	}
	return length, nil
}

type fileRange struct {
	*io.SectionReader
	f vfs.File
}

func (r *fileRange) Close() error { return r.f.Close() }

// StatShard returns the size of shard id.
func (s *Store) StatShard(ctx context.Context, id dsn.ShardID) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("stat shard %s: %w", id.Short(), err)
	}
	e, err := s.entry(id)
	if err != nil {
		return 0, fmt.Errorf("stat shard %s: %w", id.Short(), err)
	}
	return e.Size, nil
}

// RemoveShard deletes shard id. The index entry and the usage record go
// first, in one synced batch, and the file after. A crash in between leaves
// a file with no entry, which Open deletes as unacknowledged: the space is
// accounted correctly at every instant. The other order would, after a
// crash, leave an entry whose file is gone, which Open must treat as lost
// data and report.
func (s *Store) RemoveShard(ctx context.Context, id dsn.ShardID) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove shard %s: %w", id.Short(), err)
	}
	l := s.lockID(id)
	defer s.unlockID(id, l)
	if err := s.removeEntry(id); err != nil {
		return fmt.Errorf("remove shard %s: %w", id.Short(), err)
	}
	// Not synced: if the removal is lost in a crash, the file comes back
	// without an index entry and Open deletes it.
	if err := s.fs.Remove(s.shardPath(id)); err != nil && !isNotExist(err) {
		s.log.Warn("removed shard file stays on disk until the next open", "shard", id.String(), "err", err)
	}
	return nil
}

func (s *Store) removeEntry(id dsn.ShardID) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return dsn.ErrClosed
	}
	e, err := s.getEntry(id)
	if err != nil {
		return err
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	// The caller holds id's lock, so no sidecar of id changes meanwhile.
	sc, err := s.sidecarBytes(id, "")
	if err != nil {
		return err
	}
	s.mu.Lock()
	next := usageRecord{Shards: s.usage.Shards - 1, Used: s.usage.Used - shardCharge(e.Size, sc.total)}
	s.mu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	b.Delete(shardKey(id), nil)
	b.Set(usageKey, next.encode(), nil)
	p := sidecarPrefix(id)
	b.DeleteRange(p, prefixEnd(p), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("commit index: %w", err)
	}
	s.mu.Lock()
	s.usage = next
	s.mu.Unlock()
	return nil
}

// shardsPage is how many entries Shards reads per pebble iterator. Paging
// keeps memory bounded and means no iterator stays open while the caller's
// loop body runs (which might call back into the store, or Close it).
var shardsPage = 256

// Shards yields every shard in ID order. It is not a snapshot: a shard
// added or removed during the loop may or may not be seen, but every shard
// held throughout is yielded exactly once.
func (s *Store) Shards(ctx context.Context) iter.Seq2[dsn.ShardInfo, error] {
	return func(yield func(dsn.ShardInfo, error) bool) {
		lower := shardKeyLower
		for {
			if err := ctx.Err(); err != nil {
				yield(dsn.ShardInfo{}, fmt.Errorf("list shards: %w", err))
				return
			}
			page, err := s.shardsFrom(lower, shardsPage)
			for _, info := range page {
				if !yield(info, nil) {
					return
				}
			}
			if err != nil {
				yield(dsn.ShardInfo{}, fmt.Errorf("list shards: %w", err))
				return
			}
			if len(page) < shardsPage {
				return
			}
			// The next key after the last one seen.
			lower = append(shardKey(page[len(page)-1].ID), 0)
		}
	}
}

// shardsFrom reads up to n entries with keys >= lower.
func (s *Store) shardsFrom(lower []byte, n int) ([]dsn.ShardInfo, error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return nil, dsn.ErrClosed
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: shardKeyUpper})
	if err != nil {
		return nil, err
	}
	var page []dsn.ShardInfo
	for ok := it.First(); ok && len(page) < n; ok = it.Next() {
		id, err := parseShardKey(it.Key())
		if err != nil {
			it.Close()
			return page, err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return page, err
		}
		e, err := decodeIndexEntry(v)
		if err != nil {
			it.Close()
			return page, fmt.Errorf("shard %s: %w", id.Short(), err)
		}
		page = append(page, dsn.ShardInfo{ID: id, Size: e.Size})
	}
	if err := it.Close(); err != nil {
		return page, err
	}
	return page, nil
}

// Usage reports the committed accounting; receives in flight are not
// counted until acknowledged. Used is the sum of the shards' charges
// (charge.go), not of their sizes: what the store enforces Capacity on, so
// Capacity-Used is what is really free.
func (s *Store) Usage(ctx context.Context) (dsn.Usage, error) {
	if err := ctx.Err(); err != nil {
		return dsn.Usage{}, fmt.Errorf("usage: %w", err)
	}
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return dsn.Usage{}, fmt.Errorf("usage: %w", dsn.ErrClosed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return dsn.Usage{Shards: s.usage.Shards, Used: s.usage.Used, Capacity: s.capacity}, nil
}

// Close closes the index. It waits for index operations in progress but
// not for receives still reading from their source: those fail with
// dsn.ErrClosed when they reach their commit. Readers returned by
// FetchShard stay usable. Closing twice is harmless.
func (s *Store) Close() error {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close shard store %s: %w", s.dir, err)
	}
	return nil
}
