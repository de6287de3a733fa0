// Package market holds the deterministic decisions of the storage market:
// which peers should hold a shard (placement), and later asks, deals,
// reputation and repair. Values in, decisions out: no sockets, no clock and
// no randomness of its own, so every decision can be recomputed by anyone
// from the same inputs.
//
// What it owns:
//
//   - Placement: Rank orders peers by XOR distance to a key, Subnet names
//     a peer's network, PickSpread keeps a segment's shards apart.
//   - Asks: a provider's signed offer (Ask) with one canonical binary
//     encoding and an Ed25519 signature under its own domain prefix;
//     Ask.Fits says whether a shard may go under it within ClientLimits;
//     AskBook keeps the latest valid ask per provider, bounded.
//   - Deals: DealState and Transition, the life of one shard's deal from
//     proposal to expiry, renewal or failure; MaxConsecutiveFailures
//     failed or missed audits in a row fail it.
//   - Reputation: a beta reputation per provider (ReputationParams,
//     Reputation) updated per audit with forgetting, as Storj does, and
//     vetting of new providers.
//   - Selection: Segment.Pick and Select choose each shard's provider from
//     its ranked candidates, with a reason for every candidate passed
//     over.
//   - Collateral: Collateral and Penalty, in the ledger's integer
//     nano-units, computed in 128 bits.
//
// What it does not own: gossip, timers and storage of asks, deals and
// reputations (package node), the ledger's entries and their signatures
// (package ledger), and proofs (package proofs). Prices, sizes and times
// have the meanings of ledger.Deal's fields, so an ask's terms become a
// ledger deal as they are; the market does not import the ledger, whose
// log brings its own storage.
package market
