package shardstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"github.com/dsn-project/dsn"
)

// Sidecars are small records a provider keeps about a shard it holds: the
// material for answering proofs of retrievability (a Merkle outboard, an
// owner's tags). They live in the index, under the shard's ID and a name,
// and go when the shard goes. The store gives them no meaning; the audit
// code does.

// MaxSidecarSize bounds one sidecar. The largest expected are the tags of
// a maximum-size shard (about 1/190 of it) and its outboard (1/512).
const MaxSidecarSize = 16 << 20

// MaxSidecarName bounds a sidecar's name.
const MaxSidecarName = 128

// ErrSidecarNotFound is returned when a held shard has no sidecar of the
// name asked for.
var ErrSidecarNotFound = errors.New("no such sidecar")

// sidecarKeyPrefix puts sidecars after the shard entries ('s') and the
// usage record ('m'), so shard scans never see them; a shard's sidecars
// share the prefix 'x' + id, so RemoveShard deletes them with one range.
const sidecarKeyPrefix = 'x'

func sidecarPrefix(id dsn.ShardID) []byte {
	k := make([]byte, 1+dsn.ShardIDSize, 1+dsn.ShardIDSize+MaxSidecarName)
	k[0] = sidecarKeyPrefix
	copy(k[1:], id[:])
	return k
}

func sidecarKey(id dsn.ShardID, name string) []byte {
	return append(sidecarPrefix(id), name...)
}

// prefixEnd is the smallest key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

func checkSidecarName(name string) error {
	if name == "" || len(name) > MaxSidecarName {
		return fmt.Errorf("sidecar name %q: want 1 to %d bytes", name, MaxSidecarName)
	}
	return nil
}

// PutSidecar keeps b as the sidecar name of shard id, replacing any
// before it. The shard must be held (dsn.ErrShardNotFound otherwise). The
// write is synced: proof material that vanished in a crash would make the
// provider fail audits for data it still holds. Sidecar bytes within the
// shard's SidecarAllowance are already paid for; beyond it they count
// toward usage, and dsn.ErrNoSpace is returned when they do not fit.
func (s *Store) PutSidecar(ctx context.Context, id dsn.ShardID, name string, b []byte) error {
	if err := checkSidecarName(name); err != nil {
		return fmt.Errorf("put sidecar of shard %s: %w", id.Short(), err)
	}
	if len(b) > MaxSidecarSize {
		return fmt.Errorf("put sidecar %s of shard %s: %d bytes, at most %d allowed", name, id.Short(), len(b), MaxSidecarSize)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put sidecar %s of shard %s: %w", name, id.Short(), err)
	}
	// Holding the ID's lock orders this against RemoveShard, so a sidecar
	// can never outlive its shard.
	l := s.lockID(id)
	defer s.unlockID(id, l)
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return dsn.ErrClosed
	}
	e, err := s.getEntry(id)
	if err != nil {
		return fmt.Errorf("put sidecar %s of shard %s: %w", name, id.Short(), err)
	}
	// commitMu orders this usage update with every other one.
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	sc, err := s.sidecarBytes(id, name)
	if err != nil {
		return fmt.Errorf("put sidecar %s of shard %s: %w", name, id.Short(), err)
	}
	before := shardCharge(e.Size, sc.total)
	after := shardCharge(e.Size, sc.total-sc.named+sidecarCost(name, len(b)))
	s.mu.Lock()
	if after > before {
		if err := s.fitsLocked(after - before); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("put sidecar %s of shard %s: %w", name, id.Short(), err)
		}
	}
	next := usageRecord{Shards: s.usage.Shards, Used: s.usage.Used + after - before}
	s.mu.Unlock()
	batch := s.db.NewBatch()
	defer batch.Close()
	batch.Set(sidecarKey(id, name), b, nil)
	if next != s.usage {
		batch.Set(usageKey, next.encode(), nil)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("put sidecar %s of shard %s: %w", name, id.Short(), err)
	}
	s.mu.Lock()
	s.usage = next
	s.mu.Unlock()
	return nil
}

// sidecarUse is what sidecarBytes finds: the cost of all of a shard's
// sidecars, and of the one with the name asked for (0 if none).
type sidecarUse struct {
	total, named int64
}

// sidecarBytes sums sidecarCost over the sidecars of id. The caller holds
// dbMu for reading and id's lock, so none is added or removed meanwhile.
// A shard has a few sidecars (an outboard, a set of tags per owner), so
// the scan is short.
func (s *Store) sidecarBytes(id dsn.ShardID, name string) (sidecarUse, error) {
	p := sidecarPrefix(id)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return sidecarUse{}, fmt.Errorf("scan sidecars: %w", err)
	}
	var u sidecarUse
	for ok := it.First(); ok; ok = it.Next() {
		n := string(it.Key()[len(p):])
		lv := it.LazyValue()
		c := sidecarCost(n, lv.Len())
		u.total += c
		if n == name {
			u.named = c
		}
	}
	if err := it.Close(); err != nil {
		return sidecarUse{}, fmt.Errorf("scan sidecars: %w", err)
	}
	return u, nil
}

// Sidecar returns the sidecar name of shard id: dsn.ErrShardNotFound if
// the shard is not held, ErrSidecarNotFound if it has no such sidecar.
func (s *Store) Sidecar(ctx context.Context, id dsn.ShardID, name string) ([]byte, error) {
	if err := checkSidecarName(name); err != nil {
		return nil, fmt.Errorf("read sidecar of shard %s: %w", id.Short(), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read sidecar %s of shard %s: %w", name, id.Short(), err)
	}
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return nil, dsn.ErrClosed
	}
	if _, err := s.getEntry(id); err != nil {
		return nil, fmt.Errorf("read sidecar %s of shard %s: %w", name, id.Short(), err)
	}
	v, closer, err := s.db.Get(sidecarKey(id, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("read sidecar %s of shard %s: %w", name, id.Short(), ErrSidecarNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read sidecar %s of shard %s: %w", name, id.Short(), err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// ShardFile is a held shard opened for random reads, as proofs need.
type ShardFile interface {
	io.ReaderAt
	io.Closer
}

// OpenShard opens shard id for random reads and returns its size. Like
// FetchShard it does not re-hash: a prover that reads corrupt bytes
// produces a proof that fails, which is the truth about the shard.
func (s *Store) OpenShard(ctx context.Context, id dsn.ShardID) (ShardFile, int64, error) {
	r, size, err := s.FetchShard(ctx, id, 0, -1)
	if err != nil {
		return nil, 0, err
	}
	return r.(*fileRange), size, nil
}
