package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"sync"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/shardstore"
)

// Store holds shards in memory. It is safe for concurrent use.
type Store struct {
	capacity int64

	mu       sync.Mutex
	shards   map[dsn.ShardID][]byte // immutable once stored
	sidecars map[dsn.ShardID]map[string][]byte
	used     int64
	reserved int64
	closed   bool
}

var _ dsn.ShardStore = (*Store)(nil)

// New returns an empty store that holds at most capacity bytes of shards
// (0: unlimited; a negative capacity is treated as 0).
func New(capacity int64) *Store {
	return &Store{capacity: max(capacity, 0), shards: make(map[dsn.ShardID][]byte)}
}

// readChunk is the unit the store reads in and checks ctx between.
const readChunk = 256 << 10

// preallocLimit bounds the buffer allocated before any byte of a shard has
// arrived.
const preallocLimit = 64 << 20

// ReceiveShard stores the size bytes read from r as shard id. A shard
// already held is acknowledged without reading r (see the disk store).
func (s *Store) ReceiveShard(ctx context.Context, id dsn.ShardID, size int64, r io.Reader) error {
	if size < 0 || size > dsn.MaxShardSize {
		return fmt.Errorf("receive shard %s: size %d out of range [0, %d]: %w", id.Short(), size, int64(dsn.MaxShardSize), dsn.ErrShardSize)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("receive shard %s: %w", id.Short(), err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("receive shard %s: %w", id.Short(), dsn.ErrClosed)
	}
	if held, ok := s.shards[id]; ok {
		s.mu.Unlock()
		if int64(len(held)) != size {
			return fmt.Errorf("receive shard %s: held with size %d, offered with size %d: %w", id.Short(), len(held), size, dsn.ErrShardSize)
		}
		return nil
	}
	if s.capacity > 0 && size > s.capacity-s.used-s.reserved {
		free := s.capacity - s.used - s.reserved
		s.mu.Unlock()
		return fmt.Errorf("receive shard %s: %d bytes wanted, %d of %d free: %w", id.Short(), size, free, s.capacity, dsn.ErrNoSpace)
	}
	s.reserved += size
	s.mu.Unlock()

	data, err := readAll(ctx, dsn.VerifyReader(id, size, r), size)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserved -= size
	if err != nil {
		return fmt.Errorf("receive shard %s: %w", id.Short(), err)
	}
	if s.closed {
		return fmt.Errorf("receive shard %s: %w", id.Short(), dsn.ErrClosed)
	}
	if _, ok := s.shards[id]; !ok { // a concurrent receive may have won
		s.shards[id] = data
		s.used += size
	}
	return nil
}

// readAll reads r to the end (io.EOF from the verifying reader means
// complete and correct), checking ctx between chunks. The buffer starts at
// the stated size up to preallocLimit, so ordinary shards are read without
// regrowing, and grows past that only as bytes arrive, so a false size
// claim costs little memory up front.
func readAll(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	buf := make([]byte, 0, min(size, preallocLimit))
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) && int64(len(buf)) < size {
			buf = slices.Grow(buf, readChunk)
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), len(buf)+readChunk)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (s *Store) get(id dsn.ShardID) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, dsn.ErrClosed
	}
	b, ok := s.shards[id]
	if !ok {
		return nil, dsn.ErrShardNotFound
	}
	return b, nil
}

// FetchShard returns length bytes of shard id from off (length < 0: to the
// end) and the shard's size.
func (s *Store) FetchShard(ctx context.Context, id dsn.ShardID, off, length int64) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("fetch shard %s: %w", id.Short(), err)
	}
	b, err := s.get(id)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch shard %s: %w", id.Short(), err)
	}
	size := int64(len(b))
	if off < 0 || off > size {
		return nil, 0, fmt.Errorf("fetch shard %s: offset %d outside shard of %d bytes: %w", id.Short(), off, size, dsn.ErrShardSize)
	}
	if length < 0 {
		length = size - off
	}
	if length > size-off {
		return nil, 0, fmt.Errorf("fetch shard %s: range %d+%d beyond shard of %d bytes: %w", id.Short(), off, length, size, dsn.ErrShardSize)
	}
	return io.NopCloser(bytes.NewReader(b[off : off+length])), size, nil
}

// StatShard returns the size of shard id.
func (s *Store) StatShard(ctx context.Context, id dsn.ShardID) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("stat shard %s: %w", id.Short(), err)
	}
	b, err := s.get(id)
	if err != nil {
		return 0, fmt.Errorf("stat shard %s: %w", id.Short(), err)
	}
	return int64(len(b)), nil
}

// RemoveShard deletes shard id and releases its space.
func (s *Store) RemoveShard(ctx context.Context, id dsn.ShardID) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove shard %s: %w", id.Short(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("remove shard %s: %w", id.Short(), dsn.ErrClosed)
	}
	b, ok := s.shards[id]
	if !ok {
		return fmt.Errorf("remove shard %s: %w", id.Short(), dsn.ErrShardNotFound)
	}
	delete(s.shards, id)
	delete(s.sidecars, id)
	s.used -= int64(len(b))
	return nil
}

// PutSidecar keeps b as the sidecar name of shard id, as the disk store
// does (see shardstore.Store.PutSidecar), with the same bounds.
func (s *Store) PutSidecar(ctx context.Context, id dsn.ShardID, name string, b []byte) error {
	if name == "" || len(name) > shardstore.MaxSidecarName || len(b) > shardstore.MaxSidecarSize {
		return fmt.Errorf("put sidecar %.40q of shard %s: name of %d bytes or value of %d bytes out of bounds", name, id.Short(), len(name), len(b))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put sidecar %s of shard %s: %w", name, id.Short(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return dsn.ErrClosed
	}
	if _, ok := s.shards[id]; !ok {
		return fmt.Errorf("put sidecar %s of shard %s: %w", name, id.Short(), dsn.ErrShardNotFound)
	}
	if s.sidecars == nil {
		s.sidecars = map[dsn.ShardID]map[string][]byte{}
	}
	if s.sidecars[id] == nil {
		s.sidecars[id] = map[string][]byte{}
	}
	s.sidecars[id][name] = bytes.Clone(b)
	return nil
}

// Sidecar returns the sidecar name of shard id.
func (s *Store) Sidecar(ctx context.Context, id dsn.ShardID, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read sidecar %s of shard %s: %w", name, id.Short(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, dsn.ErrClosed
	}
	if _, ok := s.shards[id]; !ok {
		return nil, fmt.Errorf("read sidecar %s of shard %s: %w", name, id.Short(), dsn.ErrShardNotFound)
	}
	b, ok := s.sidecars[id][name]
	if !ok {
		return nil, fmt.Errorf("read sidecar %s of shard %s: %w", name, id.Short(), shardstore.ErrSidecarNotFound)
	}
	return bytes.Clone(b), nil
}

// OpenShard opens shard id for random reads.
func (s *Store) OpenShard(ctx context.Context, id dsn.ShardID) (shardstore.ShardFile, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("open shard %s: %w", id.Short(), err)
	}
	b, err := s.get(id)
	if err != nil {
		return nil, 0, fmt.Errorf("open shard %s: %w", id.Short(), err)
	}
	return nopCloser{bytes.NewReader(b)}, int64(len(b)), nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Shards yields every shard in ID order, from a snapshot of the IDs taken
// when the loop starts; shards removed since are skipped.
func (s *Store) Shards(ctx context.Context) iter.Seq2[dsn.ShardInfo, error] {
	return func(yield func(dsn.ShardInfo, error) bool) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			yield(dsn.ShardInfo{}, fmt.Errorf("list shards: %w", dsn.ErrClosed))
			return
		}
		ids := make([]dsn.ShardID, 0, len(s.shards))
		for id := range s.shards {
			ids = append(ids, id)
		}
		s.mu.Unlock()
		slices.SortFunc(ids, func(a, b dsn.ShardID) int { return bytes.Compare(a[:], b[:]) })
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				yield(dsn.ShardInfo{}, fmt.Errorf("list shards: %w", err))
				return
			}
			b, err := s.get(id)
			if errors.Is(err, dsn.ErrShardNotFound) {
				continue
			}
			if err != nil {
				yield(dsn.ShardInfo{}, fmt.Errorf("list shards: %w", err))
				return
			}
			if !yield(dsn.ShardInfo{ID: id, Size: int64(len(b))}, nil) {
				return
			}
		}
	}
}

// Usage reports the store's accounting.
func (s *Store) Usage(ctx context.Context) (dsn.Usage, error) {
	if err := ctx.Err(); err != nil {
		return dsn.Usage{}, fmt.Errorf("usage: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return dsn.Usage{}, fmt.Errorf("usage: %w", dsn.ErrClosed)
	}
	return dsn.Usage{Shards: int64(len(s.shards)), Used: s.used, Capacity: s.capacity}, nil
}

// Close drops the shards. Closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.shards = nil
	return nil
}
