// Package memstore is a dsn.ShardStore in memory, with the same semantics as
// the disk store (package shardstore): bytes come in through
// dsn.VerifyReader, capacity is reserved before any byte is read, and
// nothing of a failed receive is kept. It exists for tests of the code
// above the store; it owns no persistence and survives nothing.
package memstore
