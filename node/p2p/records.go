package p2p

import (
	"context"
	"errors"
	"fmt"

	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/routing"

	"github.com/dsn-project/dsn/manifest"
)

// recordValidator is the DHT's validator: it accepts values only in the
// namespace of manifest version records, each checked like an IPNS record
// (its key binds the signer and the file, Validate checks the signature,
// Select keeps the highest sequence number). Setting it replaces kad-dht's
// default pk and ipns namespaces, which dsn has no use for.
func recordValidator() record.Validator {
	return record.NamespacedValidator{manifest.VersionNamespace: manifest.VersionValidator{}}
}

// PutRecord stores value under key in the DHT: on this host and on the
// closest DHT servers to key. The validator refuses a value that does not
// verify and one older than the value this host holds.
func (h *Host) PutRecord(ctx context.Context, key string, value []byte) error {
	if h.RoutingTableSize() == 0 {
		return fmt.Errorf("put record: %w", ErrNoPeers)
	}
	if err := h.dht.PutValue(ctx, key, value); err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	return nil
}

// GetRecords returns the best value under key that the DHT's lookup found
// (the validator's Select over the answers), or none.
func (h *Host) GetRecords(ctx context.Context, key string) ([][]byte, error) {
	v, err := h.dht.GetValue(ctx, key)
	if errors.Is(err, routing.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		if v != nil {
			// The lookup ran out of time with a value in hand: use it.
			return [][]byte{v}, nil
		}
		return nil, fmt.Errorf("get record: %w", err)
	}
	return [][]byte{v}, nil
}
