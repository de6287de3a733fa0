// Package ledger keeps a node's signed, tamper-evident record of what is
// owed for space kept and bytes served: an append-only log of entries,
// each signed by the party who pays or audits, stored in pebble and
// organised as a Merkle log (golang.org/x/mod/sumdb/tlog) whose root the
// node signs as checkpoints (golang.org/x/mod/sumdb/note, Ed25519, the
// node's identity key). There is no blockchain and no global consensus:
// each node's history is its own, and anyone can check it.
//
// It owns the entry formats and their encoding, the rules an entry must
// pass to be appended, the log's storage, checkpoints and proofs, and the
// folding of entries into balances. It does not own how entries travel
// between nodes, when audits run, converting libp2p peer IDs to keys, or
// settling balances; package node does those. Signatures are checked in
// one place, with package ledger/batch (batch verification that gives
// exactly crypto/ed25519's answers) spread over the CPUs.
//
// # Parties and entries
//
// A party is an Ed25519 public key. There are five kinds of entry:
//
//   - Deal: the terms of one shard's storage (shard, size, storage price
//     per GiB-month, bandwidth price per GiB, the provider's collateral,
//     [Start, End) in Unix seconds, client, provider, 1 to 16 auditors),
//     signed by client and provider.
//   - Receipt: signed by the client as bytes arrive in a transfer
//     session: provider, client, shard, 16-byte session ID, sequence
//     number and cumulative bytes. The latest receipt of a session
//     supersedes the earlier ones.
//   - Credit: an audit pass for a deal's shard in an epoch, signed by one
//     of the deal's auditors; worth Bytes × EpochSeconds at the deal's
//     price.
//   - Penalty: a failed or missed challenge, signed by one of the deal's
//     auditors, with the Amount the provider forfeits to the client.
//
// # Encoding
//
// An entry is version (1 byte, 2) || kind (1 byte) || fields in
// declaration order || signatures (64 bytes each). Keys, shard IDs,
// session IDs and digests are fixed-width; integers are minimal uvarints;
// the auditor list is a uvarint count then keys in strictly increasing
// byte order; an outcome and an end reason are one byte. Version 1
// (before collateral and End) is refused with ErrVersion. Decoding is strict: no trailing
// bytes, every bound checked (entry at most 4 KiB), so every entry has
// exactly one encoding. A signature covers
// "dsn ledger v1 <kind>\x00" || the encoding without signatures, so it
// cannot be reused for another kind or outside the ledger.
//
// # Rules
//
// Append (and AppendBatch, all or nothing with one synced commit)
// accepts an entry only if: its signatures are valid and by the right
// party (a deal by both client and provider, a receipt by its client, a
// credit or penalty by its auditor); no party vouches for itself (client
// or auditor equal to the provider: ErrSelfDealing); the log's owner is a
// party, and a receipt names the owner as its provider (who is paid on
// it) or client (who owes it); deals of one (shard, client, provider) never overlap in
// time; a receipt has a deal for its shard and parties, its session
// stays on one shard, its sequence number is above every earlier one of
// the session (replays, lowered and reordered receipts fail), its bytes
// never decrease nor exceed the shard's size; a credit or penalty falls
// inside a deal's time ([epoch×len, (epoch+1)×len) ⊆ [Start, End)), or
// runs on from it into renewals without a gap, is signed by an auditor
// the deal it starts in names, uses the epoch length of that deal's
// first audit, and is the only credit or penalty of its (deal, epoch); a
// credit's Bytes is the deal's Size, a penalty's Amount is PenaltyAmount
// of the deal's terms. Every renewal an epoch runs on into takes its
// length and must not end before the epoch's part in it does, then or
// later. No party's account total passes MaxAccountTotal, so Balance
// cannot overflow. An End names a deal in the
// log (ErrNoDeal) that has not ended (ErrDealEnded), is signed by its
// client or one of its auditors (ErrNotAuditor; by the provider,
// ErrSelfDealing), has At within [Start, End] and after the epoch of
// every credit or penalty already logged for the deal, At equal to the
// deal's End if expired, and, if failed, follows MaxConsecutiveFailures
// penalties in a row in log order (a credit resets the run) and forfeits
// exactly the deal's Collateral; other reasons forfeit nothing (ErrTerms,
// ErrMalformed). Once a deal has ended, no credit or penalty is taken for
// an epoch starting at or after At (ErrDealEnded). A renewal is a new
// deal of the same triple starting at the old one's End, which the
// overlap rule allows. Each refusal wraps a sentinel error.
//
// # Storage
//
// Pebble keys: "o" owner key; "n" size; "e"+u64be(i) entry bytes;
// "h"+u64be(j) tlog stored hash j; "c"+u64be(k) the k-th published
// checkpoint; and indexes that the rules read ("D" deals by shard,
// parties and start, "S" receipt sessions, "O" (deal, epoch) outcomes,
// "E" each deal's epoch length, "F" each deal's penalties since its last
// credit, "X" ended deals). Indexes are derived data: Verify
// rebuilds them in a scratch store instead of trusting them.
//
// # Checkpoints and proofs
//
// A checkpoint is a note whose text is
//
//	dsn ledger v1 <node key, 64 lower-case hex digits>
//	<size, decimal>
//	<root hash, standard base64>
//
// signed by the node's key under the note name "dsn-ledger-<hex key>".
// ParseCheckpoint trusts the key the first line names and checks the
// signature by it; VerifyCheckpoint also checks it is the node expected.
// CheckConsistency checks that one checkpoint extends another
// (tlog.CheckTree); a failure is ErrFork, evidence that the node signed
// two histories. ProveInclusion and CheckInclusion prove one entry
// against a signed checkpoint. Checkpoint refuses to sign a tree that no
// longer extends the last checkpoint it published.
//
// # Verify and what it protects against
//
// Verify streams the log as of the call: it decodes every entry, checks
// its signatures and rules against the entries before it, recomputes the
// tree and compares it with the stored hashes and with every published
// checkpoint, and names the first bad index (ErrAltered, ErrMissing,
// ErrExtra, ErrFork). Entries are signed by the paying party, so no one
// can forge one; the rules stop replays; the tree and checkpoints make
// removal, reordering and rewriting visible. An operator who rewrites
// the whole store, checkpoint history included, is caught by the other
// nodes that hold its earlier checkpoints: they ask for a consistency
// proof and get ErrFork.
//
// # Balances
//
// Balance folds entries into accounts in integer nano-units: space is
// Σ Bytes × EpochSeconds × PricePerGiBMonth / (2^30 × 2,592,000);
// bandwidth is, per session, the latest receipt's bytes × PricePerGiB /
// 2^30, priced by the latest deal of the shard and parties when the
// session's first receipt was appended; penalties and forfeits are
// summed, a forfeit counted in the provider's Penalties and Forfeits and
// the client's Compensation and ForfeitsReceived. Products
// are summed exactly in 128 bits per (provider, client) pair and rounded
// down once, so a provider earns exactly what its clients owe.
package ledger
