// Package book is a node's ledger in service: the node's own signed log
// (package ledger) and everything the node does with it.
//
// As a client a node proposes a Deal for each shard it stores (with the
// collateral its terms or the provider's ask set), signs a Receipt for
// the bytes each provider serves it, and, as the auditor of its deals,
// signs a Credit for every passed audit, a Penalty for every failed or
// missed one, and an End when a deal expires, fails (forfeiting the
// collateral) or is cancelled; it signs renewals from a deal's End; it
// keeps its own copy of each. As a provider it countersigns deals for
// shards it holds at prices it accepts and collateral it stakes, and
// renewals of its active deals, and keeps the receipts, credits,
// penalties and ends others sign for it. It folds every deal's entries
// through market.Transition, so each deal's state is known (Info,
// DealInfos), and rebuilds them on Open. Entries are appended with group commit: concurrent appends share
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
