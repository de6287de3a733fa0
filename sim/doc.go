// Package sim estimates durability at scale: it runs the market's
// selection and reputation rules and the repair rule over thousands of
// simulated providers that leave, go offline and come back, and reports
// how many files were lost, how much repair traffic that cost and how
// evenly the shards were spread.
//
// A run is deterministic: one seeded PCG generator drives every random
// choice, time advances in fixed epochs, and nothing reads the wall
// clock or starts a goroutine, so the same Config always gives the same
// Report.
//
// The model, per epoch: providers leave for good (exponential lifetimes;
// a newcomer, unvetted, takes each one's place, so the population is
// constant) or go offline for a while; every provider in the network is
// audited and its reputation updated (pass if online, missed if not); a
// holder that has missed DetectEpochs audits in a row, or has left and
// missed as many, has its shards counted as gone; a segment whose shards
// not counted gone fall to the repair threshold is repaired if K of its
// shards are online (K downloads), every shard counted gone being placed
// anew (one upload each) and dropped by its old holder, whose deal has
// failed. A file is lost when fewer than K of its shards remain on
// providers that have not left. Not modelled: disk failures and
// corruption without departure, correlated outages (every provider is
// its own network), capacity, prices, bandwidth limits and repair time
// (a repair completes in the epoch it starts), segments of one file
// being lost together, the owner itself going away.
//
// What it owns: the churn model (Config), the event loop (Run) and its
// measurements (Report). What it does not own: the decisions themselves.
// Reputation updates are market.ReputationParams.Update, placement is
// market.Segment.Pick under market.ClientLimits, and a shard is given up
// after market.MaxConsecutiveFailures missed audits by default, as a
// deal fails. No bytes are moved, encoded or hashed: shards are counted,
// not stored.
package sim
