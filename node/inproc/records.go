package inproc

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/dsn-project/dsn"
)

// Bounds on the record store, as a DHT node bounds what it keeps.
const (
	// MaxRecordSize bounds one record value.
	MaxRecordSize = 4 << 10
	// MaxRecordKeySize bounds a record key.
	MaxRecordKeySize = 256
	// MaxRecordsPerKey is how many distinct values one key keeps; a new
	// one pushes out the oldest.
	MaxRecordsPerKey = 8
)

// records is a Network's shared record store: what the DHT's values are
// for the libp2p transport. It keeps several values per key, as different
// DHT nodes can hold different values for one key, and does not judge
// them: like a DHT node that might lie, it leaves checking to the reader.
type records struct {
	mu sync.Mutex
	m  map[string][][]byte
}

// PutRecord stores value under key for every peer of the network. It
// fails with dsn.ErrUnreachable while this peer is killed.
func (t *Transport) PutRecord(ctx context.Context, key string, value []byte) error {
	if err := t.recordCheck(ctx, "put", key); err != nil {
		return err
	}
	if len(value) > MaxRecordSize {
		return fmt.Errorf("put record: value of %d bytes, more than %d", len(value), MaxRecordSize)
	}
	r := &t.net.records
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string][][]byte)
	}
	vs := slices.DeleteFunc(r.m[key], func(v []byte) bool { return string(v) == string(value) })
	vs = append(vs, slices.Clone(value))
	if len(vs) > MaxRecordsPerKey {
		vs = vs[len(vs)-MaxRecordsPerKey:]
	}
	r.m[key] = vs
	return nil
}

// GetRecords returns the values stored under key, the latest put first;
// none when there are none.
func (t *Transport) GetRecords(ctx context.Context, key string) ([][]byte, error) {
	if err := t.recordCheck(ctx, "get", key); err != nil {
		return nil, err
	}
	r := &t.net.records
	r.mu.Lock()
	defer r.mu.Unlock()
	vs := r.m[key]
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[len(vs)-1-i] = slices.Clone(v)
	}
	return out, nil
}

func (t *Transport) recordCheck(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s record: %w", op, err)
	}
	if len(key) == 0 || len(key) > MaxRecordKeySize {
		return fmt.Errorf("%s record: key of %d bytes, want 1 to %d", op, len(key), MaxRecordKeySize)
	}
	t.net.mu.Lock()
	alive := t.alive
	t.net.mu.Unlock()
	if !alive {
		return fmt.Errorf("%s record: %s is killed: %w", op, t.id, dsn.ErrUnreachable)
	}
	return nil
}
