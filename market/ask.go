package market

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/varint"
)

// Bounds on asks. Prices and times share the ledger's bounds (ledger.MaxPrice,
// ledger.MaxTime), so that every ask's terms can become a ledger deal as
// they are.
const (
	// AskVersion is the format version byte that starts every encoded
	// ask. An ask with another version is refused, never guessed at.
	AskVersion = 1
	// MaxAskSize bounds an encoded ask. The largest valid ask is 150
	// bytes; the rest is room for fields a later version may add.
	MaxAskSize = 512
	// MaxPrice bounds a price or collateral rate, in nano-units (about a
	// thousand units).
	MaxPrice = 1 << 40
	// MaxTime bounds a Unix time in seconds (some 34,000 years).
	MaxTime = 1 << 40
	// MaxCapacity bounds the free capacity an ask may claim: 1 EiB.
	MaxCapacity = 1 << 60
	// MaxAskValidity bounds how far ahead of now an ask an AskBook takes
	// may be valid. Providers refresh their asks well before they expire.
	MaxAskValidity = 24 * time.Hour
)

// askDomain prefixes every signed ask, so that an ask's signature can
// never be read as a signature over a ledger entry or anything else.
const askDomain = "dsn market v1 ask\x00"

// Ask is a provider's signed offer: its prices, what it stakes, how much
// it has room for and until when the offer stands. Amounts are integer
// nano-units with the ledger's meanings: prices per GiB (2^30 bytes)
// kept for a month (30 days) and per GiB served, as in ledger.Deal.
type Ask struct {
	// Provider is the provider's Ed25519 public key: the ledger.PublicKey
	// its deals will name, and the key its libp2p peer ID embeds.
	Provider [ed25519.PublicKeySize]byte
	// Seq orders a provider's asks: a higher one replaces a lower one.
	Seq uint64
	// PricePerGiBMonth is the price of keeping one GiB for 30 days.
	PricePerGiBMonth uint64
	// PricePerGiB is the price of serving one GiB.
	PricePerGiB uint64
	// CollateralPerGiB is what the provider stakes per GiB kept under a
	// deal: forfeited to the client if the deal fails (see Penalty).
	CollateralPerGiB uint64
	// FreeCapacity is how many bytes the provider has room for.
	FreeCapacity uint64
	// MinShardSize and MaxShardSize bound the shards the provider takes,
	// in bytes: 1 <= MinShardSize <= MaxShardSize <= dsn.MaxShardSize.
	MinShardSize, MaxShardSize uint64
	// ValidUntil is the Unix second from which the ask no longer stands.
	ValidUntil uint64
	// Sig is the provider's signature over the encoding without it.
	Sig [ed25519.SignatureSize]byte
}

// check validates the fields that need nothing else.
func (a *Ask) check() error {
	switch {
	case a.PricePerGiBMonth > MaxPrice || a.PricePerGiB > MaxPrice:
		return fmt.Errorf("%w: price above %d nano-units", ErrAskMalformed, int64(MaxPrice))
	case a.CollateralPerGiB > MaxPrice:
		return fmt.Errorf("%w: collateral %d above %d nano-units per GiB", ErrAskMalformed, a.CollateralPerGiB, int64(MaxPrice))
	case a.FreeCapacity > MaxCapacity:
		return fmt.Errorf("%w: free capacity %d above %d bytes", ErrAskMalformed, a.FreeCapacity, int64(MaxCapacity))
	case a.MinShardSize == 0 || a.MinShardSize > a.MaxShardSize || a.MaxShardSize > dsn.MaxShardSize:
		return fmt.Errorf("%w: shard size limits [%d, %d] not within [1, %d]", ErrAskMalformed, a.MinShardSize, a.MaxShardSize, int64(dsn.MaxShardSize))
	case a.ValidUntil == 0 || a.ValidUntil > MaxTime:
		return fmt.Errorf("%w: valid until %d, not within [1, %d]", ErrAskMalformed, a.ValidUntil, int64(MaxTime))
	}
	return nil
}

// appendBody appends the encoding without the signature: what is signed.
// Fields are fixed-width byte strings or minimal uvarints, in this order,
// so that each ask has exactly one encoding.
func (a *Ask) appendBody(b []byte) []byte {
	b = append(b, AskVersion)
	b = append(b, a.Provider[:]...)
	for _, v := range [...]uint64{a.Seq, a.PricePerGiBMonth, a.PricePerGiB, a.CollateralPerGiB,
		a.FreeCapacity, a.MinShardSize, a.MaxShardSize, a.ValidUntil} {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

// AppendBinary appends the canonical encoding of a, signature included.
// It fails with ErrAskMalformed if a field is out of bounds.
func (a *Ask) AppendBinary(b []byte) ([]byte, error) {
	if err := a.check(); err != nil {
		return b, fmt.Errorf("encode ask: %w", err)
	}
	return append(a.appendBody(b), a.Sig[:]...), nil
}

// MarshalBinary returns the canonical encoding of a.
func (a *Ask) MarshalBinary() ([]byte, error) { return a.AppendBinary(make([]byte, 0, 192)) }

// UnmarshalBinary decodes one canonical ask: the version, every field in
// its bounds, minimal varints and no trailing bytes, so that exactly one
// byte string decodes to each ask. It does not check the signature
// (Verify does); on error a is left unchanged.
func (a *Ask) UnmarshalBinary(b []byte) error {
	if len(b) > MaxAskSize {
		return fmt.Errorf("decode ask: %d bytes, at most %d: %w", len(b), MaxAskSize, ErrAskTooLarge)
	}
	if len(b) == 0 {
		return fmt.Errorf("decode ask: %w: empty", ErrAskMalformed)
	}
	if b[0] != AskVersion {
		return fmt.Errorf("decode ask: version %d, want %d: %w", b[0], AskVersion, ErrAskVersion)
	}
	b = b[1:]
	var out Ask
	if len(b) < len(out.Provider) {
		return fmt.Errorf("decode ask: %w: truncated in provider key", ErrAskMalformed)
	}
	b = b[copy(out.Provider[:], b):]
	fields := [...]struct {
		v    *uint64
		name string
	}{
		{&out.Seq, "sequence"}, {&out.PricePerGiBMonth, "storage price"}, {&out.PricePerGiB, "bandwidth price"},
		{&out.CollateralPerGiB, "collateral"}, {&out.FreeCapacity, "free capacity"},
		{&out.MinShardSize, "minimum shard size"}, {&out.MaxShardSize, "maximum shard size"},
		{&out.ValidUntil, "valid until"},
	}
	for _, f := range fields {
		v, n, err := varint.Uvarint(b)
		if err != nil {
			return fmt.Errorf("decode ask: %w: %s: %v", ErrAskMalformed, f.name, err)
		}
		*f.v, b = v, b[n:]
	}
	if len(b) < len(out.Sig) {
		return fmt.Errorf("decode ask: %w: truncated in signature", ErrAskMalformed)
	}
	b = b[copy(out.Sig[:], b):]
	if len(b) != 0 {
		return fmt.Errorf("decode ask: %w: %d trailing bytes", ErrAskMalformed, len(b))
	}
	if err := out.check(); err != nil {
		return fmt.Errorf("decode ask: %w", err)
	}
	*a = out
	return nil
}

func (a *Ask) signedMessage() []byte {
	return a.appendBody(append(make([]byte, 0, len(askDomain)+128), askDomain...))
}

// Sign makes priv's public key the ask's provider and signs the ask. It
// fails with ErrAskKey for a key that is not an Ed25519 private key and
// ErrAskMalformed for a field out of bounds.
func (a *Ask) Sign(priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("sign ask: private key of %d bytes, want %d: %w", len(priv), ed25519.PrivateKeySize, ErrAskKey)
	}
	if err := a.check(); err != nil {
		return fmt.Errorf("sign ask: %w", err)
	}
	copy(a.Provider[:], priv.Public().(ed25519.PublicKey))
	copy(a.Sig[:], ed25519.Sign(priv, a.signedMessage()))
	return nil
}

// Verify reports whether the ask's fields are in bounds and its signature
// is the provider's. It says nothing about time: Fits and AskBook.Add do.
func (a *Ask) Verify() error {
	if err := a.check(); err != nil {
		return fmt.Errorf("verify ask: %w", err)
	}
	if !ed25519.Verify(a.Provider[:], a.signedMessage(), a.Sig[:]) {
		return fmt.Errorf("verify ask of %x: %w", a.Provider[:6], ErrAskSignature)
	}
	return nil
}

// Expired reports whether the ask no longer stands at now.
func (a *Ask) Expired(now time.Time) bool {
	return now.Unix() >= 0 && uint64(now.Unix()) >= a.ValidUntil
}

// ClientLimits are what a client accepts from a provider. The zero value
// accepts any price and collateral and any reputation score, and no
// unvetted provider; DefaultLimits is the usual start.
type ClientLimits struct {
	// MaxPricePerGiBMonth is the highest storage price accepted (the
	// --max-price flag), in nano-units per GiB-month; 0 means any.
	MaxPricePerGiBMonth uint64
	// MaxPricePerGiB is the highest bandwidth price accepted, in
	// nano-units per GiB served; 0 means any.
	MaxPricePerGiB uint64
	// MinCollateralPerGiB is the least collateral per GiB a provider
	// must stake, in nano-units.
	MinCollateralPerGiB uint64
	// MinScore is the lowest reputation score (Reputation.Score)
	// accepted.
	MinScore float64
	// MaxUnvetted is how many of one segment's shards may go to
	// providers that are not vetted yet.
	MaxUnvetted int
}

// DefaultMinScore is the reputation score below which a provider is not
// chosen: Storj's audit disqualification cut-off (AuditDQ, 0.96, in
// storj/storj satellite/reputation/config.go). With the default
// reputation parameters a provider with a clean record falls below it
// after 41 failures in a row, and one failing more than 4% of its audits
// sinks below it for good.
const DefaultMinScore = 0.96

// DefaultMaxUnvetted is how many of a segment's shards may go to
// unvetted providers unless the client says otherwise: one, so that a
// segment with m parity shards keeps m-1 losses of margin for its vetted
// providers even if every unvetted one vanishes. Any value up to m keeps
// the data recoverable in that case; a fresh network, where no provider
// is vetted yet, must allow k+m.
const DefaultMaxUnvetted = 1

// DefaultLimits returns limits with no price cap, no collateral required,
// DefaultMinScore and DefaultMaxUnvetted.
func DefaultLimits() ClientLimits {
	return ClientLimits{MinScore: DefaultMinScore, MaxUnvetted: DefaultMaxUnvetted}
}

// Fits reports whether a shard of shardSize bytes may be placed under
// the ask at now within limits, and if not, why: ErrAskExpired,
// ErrPriceTooHigh, ErrCollateralTooLow, ErrShardSizeLimits or
// ErrNoCapacity, wrapped with the numbers. It does not check the
// signature: asks are verified once, when they are taken in (AskBook.Add).
func (a *Ask) Fits(limits ClientLimits, shardSize int64, now time.Time) error {
	switch {
	case a.Expired(now):
		return fmt.Errorf("%w: valid until %s, now %s", ErrAskExpired,
			time.Unix(int64(min(a.ValidUntil, MaxTime)), 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case limits.MaxPricePerGiBMonth != 0 && a.PricePerGiBMonth > limits.MaxPricePerGiBMonth:
		return fmt.Errorf("%w: %d nano-units per GiB-month, limit %d", ErrPriceTooHigh, a.PricePerGiBMonth, limits.MaxPricePerGiBMonth)
	case limits.MaxPricePerGiB != 0 && a.PricePerGiB > limits.MaxPricePerGiB:
		return fmt.Errorf("%w: %d nano-units per GiB served, limit %d", ErrPriceTooHigh, a.PricePerGiB, limits.MaxPricePerGiB)
	case a.CollateralPerGiB < limits.MinCollateralPerGiB:
		return fmt.Errorf("%w: %d nano-units per GiB, minimum %d", ErrCollateralTooLow, a.CollateralPerGiB, limits.MinCollateralPerGiB)
	case shardSize < 0 || uint64(shardSize) < a.MinShardSize || uint64(shardSize) > a.MaxShardSize:
		return fmt.Errorf("%w: %d bytes, provider takes [%d, %d]", ErrShardSizeLimits, shardSize, a.MinShardSize, a.MaxShardSize)
	case uint64(shardSize) > a.FreeCapacity:
		return fmt.Errorf("%w: %d bytes, %d free", ErrNoCapacity, shardSize, a.FreeCapacity)
	}
	return nil
}
