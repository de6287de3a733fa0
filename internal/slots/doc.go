// Package slots bounds the requests a server works on at once, in all and
// for each peer, so that one peer cannot take every slot and leave the
// others answered Busy.
//
// A peer that opens streams and then stalls holds each slot until the
// stream's deadline; with a bound for the whole server only, a single
// peer doing so turns every other peer away for that long (for a provider,
// its owners' audits then count as missed). A bound per peer leaves the
// rest of the slots to the others. It does not stop one operator running
// many peer identities; the libp2p resource manager's per-peer and
// per-IP limits and the cost of identities are what bound that.
//
// The package owns the counting only: what a server answers when a slot
// is refused, and for how long a slot is held, are its callers'.
package slots
