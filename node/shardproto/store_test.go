package shardproto

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/dsn-project/dsn"
)

// memStore is a minimal in-memory shard store for these tests: it verifies
// what it receives, keeps nothing on error, and can be told to stall or to
// misbehave.
type memStore struct {
	mu       sync.Mutex
	shards   map[dsn.ShardID][]byte
	capacity int64 // 0: none
	used     int64
	receives int // ReceiveShard calls

	// fetchGate, when set, blocks FetchShard until it is closed.
	fetchGate chan struct{}
	// readerClosed, when set, gets a value each time a fetched reader is
	// closed.
	readerClosed chan struct{}
	// shortBy makes FetchShard's reader end that many bytes early.
	shortBy int64
}

func newMemStore() *memStore { return &memStore{shards: make(map[dsn.ShardID][]byte)} }

func (m *memStore) ReceiveShard(ctx context.Context, id dsn.ShardID, size int64, r io.Reader) error {
	m.mu.Lock()
	m.receives++
	_, held := m.shards[id]
	full := m.capacity > 0 && m.used+size > m.capacity
	m.mu.Unlock()
	if held {
		return nil
	}
	if full {
		return fmt.Errorf("receive %s: %w", id.Short(), dsn.ErrNoSpace)
	}
	b, err := io.ReadAll(dsn.VerifyReader(id, size, r))
	if err != nil {
		return fmt.Errorf("receive %s: %w", id.Short(), err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, held := m.shards[id]; !held {
		m.shards[id] = b
		m.used += size
	}
	return nil
}

func (m *memStore) FetchShard(ctx context.Context, id dsn.ShardID, off, length int64) (io.ReadCloser, int64, error) {
	if m.fetchGate != nil {
		select {
		case <-m.fetchGate:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	m.mu.Lock()
	b, ok := m.shards[id]
	m.mu.Unlock()
	if !ok {
		return nil, 0, fmt.Errorf("fetch %s: %w", id.Short(), dsn.ErrShardNotFound)
	}
	size := int64(len(b))
	if length < 0 {
		length = size - off
	}
	if off < 0 || length < 0 || off+length > size {
		return nil, 0, fmt.Errorf("fetch %s: range [%d,+%d) of %d bytes: %w", id.Short(), off, length, size, dsn.ErrShardSize)
	}
	data := b[off : off+length-min(m.shortBy, length)]
	return &notifyCloser{Reader: bytes.NewReader(data), ch: m.readerClosed}, size, nil
}

func (m *memStore) count() (shards, receives int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.shards), m.receives
}

type notifyCloser struct {
	io.Reader
	ch chan struct{}
}

func (n *notifyCloser) Close() error {
	if n.ch != nil {
		n.ch <- struct{}{}
	}
	return nil
}
