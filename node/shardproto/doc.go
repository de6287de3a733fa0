// Package shardproto is the wire protocol that moves shards between a
// client and a provider: PutProtocol to store a shard, GetProtocol to read a
// range of one. It runs over any dsn.Transport, one stream per transfer.
//
// Every message is a small header frame (a uvarint length, at most
// MaxFrameSize, then a canonical binary body); shard bytes follow a header
// as raw bytes of the length it states and are streamed, never buffered
// whole. Failures travel as stable result codes (Code) that map to the dsn
// sentinel errors, so errors.Is(err, dsn.ErrShardNotFound) holds on the
// client after the provider answered NotFound. docs/protocols.md describes
// the frames field by field.
//
// The package owns the framing, the client calls (Put, Get) and the server
// (Server). It does not own storage (a Server is given a store), hash
// checking (stores and callers read through dsn.VerifyReader), or the choice
// of providers.
package shardproto
