// Package market holds the deterministic decisions of the storage market:
// which peers should hold a shard (placement), and later asks, deals,
// reputation and repair. Values in, decisions out: no sockets, no clock and
// no randomness of its own, so every decision can be recomputed by anyone
// from the same inputs.
package market
