// Package book is a node's ledger in service: the node's own signed log
// (package ledger) and everything the node does with it.
//
// As a client a node proposes a Deal for each shard it stores, signs a
// Receipt for the bytes each provider serves it, and, as the auditor of
// its deals, signs a Credit for every passed audit and a Penalty for
// every failed or missed one; it keeps its own copy of each. As a
// provider it countersigns deals for shards it holds at prices it
// accepts, and keeps the receipts, credits and penalties others sign for
// it. Entries are appended with group commit: concurrent appends share
// one synced write.
//
// As a witness it keeps the latest checkpoint each other node published,
// checks every newer one for consistency with it, and keeps, as
// evidence, any two that fork; a node with evidence against it is
// distrusted.
//
// It does not own the formats or rules of entries (ledger), the wire
// protocol (node/ledgerproto), gossip (node/p2p), or when things happen
// (node, node/daemon).
package book
