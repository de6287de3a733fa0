package market

import "errors"

// Errors. Every refusal wraps exactly one of these, so callers can test
// with errors.Is; the wrapping text says which field and by how much.
var (
	// ErrAskMalformed is returned for bytes that are not a canonical ask,
	// and for an ask with a field out of bounds.
	ErrAskMalformed = errors.New("malformed ask")
	// ErrAskTooLarge is returned for an encoded ask longer than
	// MaxAskSize, before any of it is decoded.
	ErrAskTooLarge = errors.New("ask too large")
	// ErrAskVersion is returned for an ask of an unknown format version.
	ErrAskVersion = errors.New("unknown ask format version")
	// ErrAskSignature is returned when an ask's signature does not verify
	// against the provider key it names.
	ErrAskSignature = errors.New("bad ask signature")
	// ErrAskKey is returned by Ask.Sign for a private key that is not an
	// Ed25519 private key.
	ErrAskKey = errors.New("not an Ed25519 private key")

	// ErrAskExpired is returned by Ask.Fits and AskBook.Add for an ask
	// whose ValidUntil is not after the time given.
	ErrAskExpired = errors.New("ask expired")
	// ErrAskTooLong is returned by AskBook.Add for an ask valid for more
	// than MaxAskValidity from the time given: asks are meant to be
	// refreshed, so a provider that goes away drops out soon.
	ErrAskTooLong = errors.New("ask valid for too long")
	// ErrStaleAsk is returned by AskBook.Add for an ask whose sequence
	// number is not above the one the book holds for its provider.
	ErrStaleAsk = errors.New("stale ask")
	// ErrAskBookFull is returned by AskBook.Add for a new provider when
	// the book holds its maximum number of providers, none expired.
	ErrAskBookFull = errors.New("ask book full")

	// ErrPriceTooHigh is returned by Ask.Fits when a price is above the
	// client's limit.
	ErrPriceTooHigh = errors.New("price above the client's limit")
	// ErrCollateralTooLow is returned by Ask.Fits when the provider
	// stakes less collateral per GiB than the client requires.
	ErrCollateralTooLow = errors.New("collateral below the client's minimum")
	// ErrShardSizeLimits is returned by Ask.Fits for a shard smaller or
	// larger than the provider takes.
	ErrShardSizeLimits = errors.New("shard size outside the provider's limits")
	// ErrNoCapacity is returned by Ask.Fits for a shard larger than the
	// provider's free capacity.
	ErrNoCapacity = errors.New("shard larger than the provider's free capacity")

	// ErrNoAsk is a selection skip reason: the candidate has no ask.
	ErrNoAsk = errors.New("no ask from provider")
	// ErrLowReputation is a selection skip reason: the candidate's
	// reputation score is below the client's minimum.
	ErrLowReputation = errors.New("reputation below the client's minimum")
	// ErrUnvettedLimit is a selection skip reason: the candidate is not
	// vetted and the segment already has as many unvetted providers as
	// the client allows.
	ErrUnvettedLimit = errors.New("segment has its share of unvetted providers")
	// ErrTaken is a selection skip reason: the candidate already holds a
	// shard of the segment.
	ErrTaken = errors.New("provider already holds a shard of the segment")
	// ErrSameSubnet is a selection skip reason: the candidate was
	// acceptable but shares a network with the segment's other shards, and
	// a farther one on another network was taken instead.
	ErrSameSubnet = errors.New("network already used by the segment")
	// ErrNoCandidate is returned by Segment.Pick and Select when no
	// candidate for a shard is acceptable.
	ErrNoCandidate = errors.New("no acceptable provider")

	// ErrTransition is returned by Transition for an event that is not
	// allowed in the deal's state.
	ErrTransition = errors.New("deal transition not allowed")
	// ErrOutcome is returned for an audit outcome that is not one of
	// AuditPass, AuditFail and AuditMissed.
	ErrOutcome = errors.New("unknown audit outcome")
	// ErrReputationParams is returned by ReputationParams.Validate for
	// parameters outside their ranges.
	ErrReputationParams = errors.New("invalid reputation parameters")
	// ErrReputationsMalformed is returned by Reputations.UnmarshalBinary
	// for bytes that are not a canonical table, and by MarshalBinary for
	// a table it cannot encode.
	ErrReputationsMalformed = errors.New("malformed reputation table")
)
