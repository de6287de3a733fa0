package ledger

import (
	"errors"
	"fmt"
)

// Errors. Every refusal wraps exactly one of these, so callers can test
// with errors.Is; the wrapping text says which entry and field.
var (
	// ErrMalformed is returned for bytes that are not a canonical entry,
	// checkpoint or proof, or for an entry with a field out of bounds.
	ErrMalformed = errors.New("malformed")
	// ErrTooLarge is returned for an entry, checkpoint or proof longer
	// than its bound, before any of it is decoded.
	ErrTooLarge = errors.New("too large")
	// ErrVersion is returned for an entry of an unknown format version.
	ErrVersion = errors.New("unknown format version")
	// ErrWrongKey is returned when signing with a key that is not the
	// one of the party who must sign.
	ErrWrongKey = errors.New("key does not belong to the signing party")
	// ErrBadSignature is returned when a signature does not verify
	// against the party who must make it.
	ErrBadSignature = errors.New("bad signature")
	// ErrSelfDealing is returned for an entry in which the party paid
	// would vouch for itself: a deal whose client or auditor is its
	// provider, a receipt whose client is its provider, a credit or
	// penalty whose auditor is its provider.
	ErrSelfDealing = errors.New("party would vouch for itself")
	// ErrNotParty is returned by Append for an entry that the log's owner
	// has no part in, and for a receipt that does not name the owner as
	// its provider.
	ErrNotParty = errors.New("log owner is not a party to the entry")
	// ErrNoDeal is returned for a receipt, credit or penalty with no
	// matching deal in the log: none for its shard, client and provider,
	// or none whose time covers the epoch.
	ErrNoDeal = errors.New("no matching deal in the log")
	// ErrDealOverlap is returned for a deal whose time overlaps another
	// deal in the log for the same shard, client and provider.
	ErrDealOverlap = errors.New("deal overlaps an earlier deal for the same shard and parties")
	// ErrNotAuditor is returned for a credit or penalty signed by a key
	// that the deal does not name as an auditor, and for an End signed by
	// a key that is neither the deal's client nor one of its auditors.
	ErrNotAuditor = errors.New("signer is not an auditor of the deal")
	// ErrTerms is returned for an entry at odds with its deal: a receipt
	// for more bytes than the shard, a credit for another size, a
	// penalty of another amount than PenaltyAmount, an epoch length
	// other than the one the deal's first audit used (or that an epoch
	// of the deal it renews ran on into it with); or an End at odds with
	// it: At outside the deal, an expiry before the deal's End, a
	// failure without MaxConsecutiveFailures penalties in a row or
	// forfeiting other than the deal's Collateral, an End before a
	// credit or penalty already logged for a later epoch or before where
	// an epoch of the deal it renews runs on to. Also for an entry that
	// would take a party's account total past MaxAccountTotal.
	ErrTerms = errors.New("entry does not match the deal's terms")
	// ErrSequence is returned for a receipt whose sequence number is not
	// above every earlier one of its session: a replay, a lowered or a
	// reordered receipt.
	ErrSequence = errors.New("receipt sequence does not increase")
	// ErrBytesDecreased is returned for a receipt whose cumulative byte
	// count is below an earlier receipt of its session.
	ErrBytesDecreased = errors.New("receipt cumulative bytes decrease")
	// ErrSessionMismatch is returned for a receipt whose session already
	// belongs to another shard.
	ErrSessionMismatch = errors.New("session belongs to another shard")
	// ErrDealEnded is returned for a second End of one deal, for a
	// credit or penalty of an ended deal for an epoch that starts at or
	// after the End's At, and for one whose epoch runs on into a renewal
	// that ended before the epoch's part in it does.
	ErrDealEnded = errors.New("deal has ended")
	// ErrDuplicateOutcome is returned for a second credit or penalty for
	// the same deal and epoch.
	ErrDuplicateOutcome = errors.New("deal already has a credit or penalty for the epoch")

	// ErrCheckpoint is returned for a checkpoint that does not parse, is
	// not signed by the node it names, or names another node than
	// expected.
	ErrCheckpoint = errors.New("bad checkpoint")
	// ErrFork is returned when two checkpoints of one node cannot both
	// describe one append-only history, or when the log's entries do not
	// match a checkpoint it published.
	ErrFork = errors.New("checkpoints fork history")
	// ErrProof is returned for an inclusion proof that does not check.
	ErrProof = errors.New("proof does not check")

	// ErrAltered is reported by Verify for a stored entry whose bytes,
	// signatures, rules or stored hashes do not check.
	ErrAltered = errors.New("entry altered")
	// ErrMissing is reported by Verify for an entry below the log's size
	// that is not in the store.
	ErrMissing = errors.New("entry missing")
	// ErrExtra is reported by Verify for an entry or stored hash beyond
	// the log's size.
	ErrExtra = errors.New("entry beyond the end of the log")

	// ErrOwner is returned by Open when the store belongs to another key.
	ErrOwner = errors.New("log belongs to another key")
	// ErrNotFound is returned for an index at or past the log's size.
	ErrNotFound = errors.New("no such entry")
	// ErrCorrupt is returned when the log's own records (its size, owner
	// or indexes) cannot be read back.
	ErrCorrupt = errors.New("corrupt ledger store")
	// ErrOverflow is returned by Balance when a total does not fit in 64
	// bits: never for a log whose entries passed the rules (see
	// MaxAccountTotal), only for Balances fed other entries.
	ErrOverflow = errors.New("balance overflows 64 bits")
	// ErrClosed is returned by a closed log.
	ErrClosed = errors.New("ledger closed")
)

// VerifyError is what Log.Verify returns for a log that does not check:
// the first bad index and what is wrong with it (ErrAltered, ErrMissing,
// ErrExtra or ErrFork).
type VerifyError struct {
	Index   int64
	Problem error
	Err     error // the detail, possibly nil
}

func (e *VerifyError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("ledger index %d: %v", e.Index, e.Problem)
	}
	return fmt.Sprintf("ledger index %d: %v: %v", e.Index, e.Problem, e.Err)
}

// Unwrap lets errors.Is match both the problem and the detail.
func (e *VerifyError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Problem}
	}
	return []error{e.Problem, e.Err}
}
