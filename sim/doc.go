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
// What it owns: the churn model (Config), the event loop (Run) and its
// measurements (Report). What it does not own: the decisions themselves.
// Reputation updates are market.ReputationParams.Update, placement is
// market.Segment.Pick under market.ClientLimits, and a shard is given up
// after market.MaxConsecutiveFailures missed audits by default, as a
// deal fails. No bytes are moved, encoded or hashed: shards are counted,
// not stored.
package sim
