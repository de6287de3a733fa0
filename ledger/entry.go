package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/varint"
)

// Version is the format version byte that starts every encoded entry. An
// entry with another version is refused, never guessed at. Version 2
// added a deal's Collateral and the End entry; version 1 entries are
// refused with ErrVersion (a version 1 log is not read, not converted).
const Version = 2

// Bounds on entries. They keep every decoded entry small and every sum in
// Balance inside 128-bit intermediates (see balance.go).
const (
	// MaxEntrySize bounds an encoded entry. The largest valid entry (a deal
	// with 16 auditors) is under 1 KiB.
	MaxEntrySize = 4 << 10
	// MaxAuditors bounds the auditors a deal names.
	MaxAuditors = 16
	// MaxPrice bounds a price, in nano-units (about a thousand units).
	MaxPrice = 1 << 40
	// MaxTime bounds a Unix time in seconds (some 34,000 years).
	MaxTime = 1 << 40
	// MaxEpochSeconds bounds an epoch's length: one leap year.
	MaxEpochSeconds = 366 * 24 * 3600
	// MaxAmount bounds a penalty, a deal's collateral and a forfeit, in
	// nano-units.
	MaxAmount = 1 << 48
	// MaxConsecutiveFailures is how many penalties in a row, with no
	// credit between them, a deal must have before an End may forfeit
	// its collateral: market.MaxConsecutiveFailures, the number after
	// which a deal fails.
	MaxConsecutiveFailures = 3
)

// Kind says what an entry records. Its value is the second byte of the
// encoding; the list is append-only.
type Kind uint8

// Entry kinds.
const (
	KindDeal    Kind = 1
	KindReceipt Kind = 2
	KindCredit  Kind = 3
	KindPenalty Kind = 4
	KindEnd     Kind = 5
)

func (k Kind) String() string {
	switch k {
	case KindDeal:
		return "deal"
	case KindReceipt:
		return "receipt"
	case KindCredit:
		return "credit"
	case KindPenalty:
		return "penalty"
	case KindEnd:
		return "end"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// PublicKey is a party: an Ed25519 public key. A libp2p Ed25519 peer ID
// embeds one; converting between them is the caller's business.
type PublicKey [ed25519.PublicKeySize]byte

// PublicKeyOf returns the public key of priv, which must be a valid
// ed25519.PrivateKey.
func PublicKeyOf(priv ed25519.PrivateKey) PublicKey {
	var p PublicKey
	copy(p[:], priv.Public().(ed25519.PublicKey))
	return p
}

// String returns the lower-case hex form of p.
func (p PublicKey) String() string { return hex.EncodeToString(p[:]) }

// Short returns the first 12 hex digits of p, for humans.
func (p PublicKey) Short() string { return p.String()[:12] }

// Signature is an Ed25519 signature.
type Signature [ed25519.SignatureSize]byte

// SessionID names one transfer session. The client picks it at random.
type SessionID [16]byte

// Outcome is why an auditor penalised a provider.
type Outcome uint8

// Penalty outcomes; values are wire bytes.
const (
	OutcomeFail   Outcome = 1 // a wrong, malformed or refused proof
	OutcomeMissed Outcome = 2 // no answer before the deadline
)

func (o Outcome) String() string {
	switch o {
	case OutcomeFail:
		return "fail"
	case OutcomeMissed:
		return "missed"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// EndReason is why a deal ended before or at its term.
type EndReason uint8

// End reasons; values are wire bytes.
const (
	// EndExpired: the deal reached its End time.
	EndExpired EndReason = 1
	// EndFailed: MaxConsecutiveFailures audits in a row failed or were
	// missed; the provider forfeits its collateral to the client.
	EndFailed EndReason = 2
	// EndCancelled: the client stopped the deal early, for instance
	// because repair moved the shard to another provider.
	EndCancelled EndReason = 3
)

func (r EndReason) String() string {
	switch r {
	case EndExpired:
		return "expired"
	case EndFailed:
		return "failed"
	case EndCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Entry is one signed ledger record: *Deal, *Receipt, *Credit, *Penalty
// or *End.
type Entry interface {
	Kind() Kind
	// AppendBinary appends the canonical encoding, signatures included. It
	// fails with ErrMalformed if a field is out of bounds.
	AppendBinary(b []byte) ([]byte, error)
	// appendBody appends the encoding without signatures: what is signed.
	appendBody(b []byte) []byte
	// check validates fields that need no other entry.
	check() error
	// sigs lists the signatures the entry carries and who must have made
	// them; body is appendBody's output.
	sigs(body []byte) []sigItem
	decodeFrom(d *decoder)
}

// Deal is the terms of one shard's storage, signed by client and provider.
type Deal struct {
	Shard dsn.ShardID
	// Size is the shard's size in bytes, 1..dsn.MaxShardSize.
	Size uint64
	// PricePerGiBMonth is what storing one GiB (2^30 bytes) for one month
	// (30 days) costs, in nano-units.
	PricePerGiBMonth uint64
	// PricePerGiB is what serving one GiB costs, in nano-units.
	PricePerGiB uint64
	// Collateral is what the provider stakes for this shard, in
	// nano-units, at most MaxAmount: it forfeits all of it to the client
	// in an End of reason EndFailed.
	Collateral uint64
	// Start and End bound the deal in Unix seconds: [Start, End).
	Start, End uint64
	Client     PublicKey
	Provider   PublicKey
	// Auditors may sign credits and penalties for this deal. Between 1
	// and MaxAuditors keys, in strictly increasing byte order (one
	// encoding per set), never the provider.
	Auditors    []PublicKey
	ClientSig   Signature
	ProviderSig Signature
}

// Receipt acknowledges bytes received in one transfer session, signed by
// the client as bytes arrive. Bytes is cumulative: the receipt with the
// highest Seq in a session supersedes the others.
type Receipt struct {
	Provider  PublicKey
	Client    PublicKey
	Shard     dsn.ShardID
	Session   SessionID
	Seq       uint64
	Bytes     uint64
	ClientSig Signature
}

// Credit records an audit pass of a deal's shard in one epoch, signed by
// one of the deal's auditors. Epoch e covers the Unix seconds
// [e*EpochSeconds, (e+1)*EpochSeconds).
type Credit struct {
	Provider     PublicKey
	Client       PublicKey
	Auditor      PublicKey
	Shard        dsn.ShardID
	Epoch        uint64
	EpochSeconds uint64
	// Bytes is the size of the shard audited; it must be the deal's Size.
	Bytes uint64
	// ProofDigest is a hash of the audit transcript, kept for the record.
	ProofDigest [32]byte
	AuditorSig  Signature
}

// Penalty records a failed or missed challenge of a deal's shard in one
// epoch, signed by one of the deal's auditors.
type Penalty struct {
	Provider     PublicKey
	Client       PublicKey
	Auditor      PublicKey
	Shard        dsn.ShardID
	Epoch        uint64
	EpochSeconds uint64
	Outcome      Outcome
	// Amount is what the provider forfeits to the client, in nano-units,
	// at most MaxAmount.
	Amount     uint64
	AuditorSig Signature
}

// End ends a deal, identified by its shard, parties and Start: from At
// on it earns nothing and takes no credit or penalty. It is signed by the
// deal's client or one of its auditors, never by the provider: the
// provider cannot end a deal to escape its audits, and an End that takes
// its collateral must follow MaxConsecutiveFailures penalties in a row.
type End struct {
	Shard    dsn.ShardID
	Client   PublicKey
	Provider PublicKey
	// Signer is the deal's client or one of its auditors.
	Signer PublicKey
	// Start is the deal's Start: with the shard and parties it names the
	// deal.
	Start uint64
	// At is when the deal stops earning, in Unix seconds, within
	// [Start, End] of the deal; the deal's End for EndExpired.
	At     uint64
	Reason EndReason
	// Forfeit is the collateral the provider pays the client, in
	// nano-units: the deal's Collateral for EndFailed, 0 otherwise.
	Forfeit   uint64
	SignerSig Signature
}

func (*Deal) Kind() Kind    { return KindDeal }
func (*Receipt) Kind() Kind { return KindReceipt }
func (*Credit) Kind() Kind  { return KindCredit }
func (*Penalty) Kind() Kind { return KindPenalty }
func (*End) Kind() Kind     { return KindEnd }

// domain returns the prefix of every signed message of kind k. A
// signature over one kind, or over anything outside this ledger, can
// never be read as a signature over another.
func domain(k Kind) string { return "dsn ledger v1 " + k.String() + "\x00" }

// sigItem is one signature to check.
type sigItem struct {
	pub PublicKey
	msg []byte
	sig Signature
	who string // "client", "provider", "auditor": for errors
}

func signedMessage(k Kind, body []byte) []byte {
	d := domain(k)
	m := make([]byte, 0, len(d)+len(body))
	return append(append(m, d...), body...)
}

func header(b []byte, k Kind) []byte { return append(b, Version, byte(k)) }

func appendU(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func (d *Deal) appendBody(b []byte) []byte {
	b = header(b, KindDeal)
	b = append(b, d.Shard[:]...)
	b = appendU(b, d.Size)
	b = appendU(b, d.PricePerGiBMonth)
	b = appendU(b, d.PricePerGiB)
	b = appendU(b, d.Collateral)
	b = appendU(b, d.Start)
	b = appendU(b, d.End)
	b = append(b, d.Client[:]...)
	b = append(b, d.Provider[:]...)
	b = appendU(b, uint64(len(d.Auditors)))
	for _, a := range d.Auditors {
		b = append(b, a[:]...)
	}
	return b
}

func (r *Receipt) appendBody(b []byte) []byte {
	b = header(b, KindReceipt)
	b = append(b, r.Provider[:]...)
	b = append(b, r.Client[:]...)
	b = append(b, r.Shard[:]...)
	b = append(b, r.Session[:]...)
	b = appendU(b, r.Seq)
	return appendU(b, r.Bytes)
}

func (c *Credit) appendBody(b []byte) []byte {
	b = header(b, KindCredit)
	b = append(b, c.Provider[:]...)
	b = append(b, c.Client[:]...)
	b = append(b, c.Auditor[:]...)
	b = append(b, c.Shard[:]...)
	b = appendU(b, c.Epoch)
	b = appendU(b, c.EpochSeconds)
	b = appendU(b, c.Bytes)
	return append(b, c.ProofDigest[:]...)
}

func (p *Penalty) appendBody(b []byte) []byte {
	b = header(b, KindPenalty)
	b = append(b, p.Provider[:]...)
	b = append(b, p.Client[:]...)
	b = append(b, p.Auditor[:]...)
	b = append(b, p.Shard[:]...)
	b = appendU(b, p.Epoch)
	b = appendU(b, p.EpochSeconds)
	b = append(b, byte(p.Outcome))
	return appendU(b, p.Amount)
}

func (e *End) appendBody(b []byte) []byte {
	b = header(b, KindEnd)
	b = append(b, e.Shard[:]...)
	b = append(b, e.Client[:]...)
	b = append(b, e.Provider[:]...)
	b = append(b, e.Signer[:]...)
	b = appendU(b, e.Start)
	b = appendU(b, e.At)
	b = append(b, byte(e.Reason))
	return appendU(b, e.Forfeit)
}

func (d *Deal) check() error {
	switch {
	case d.Size == 0 || d.Size > dsn.MaxShardSize:
		return fmt.Errorf("%w: deal size %d out of range [1, %d]", ErrMalformed, d.Size, int64(dsn.MaxShardSize))
	case d.PricePerGiBMonth > MaxPrice || d.PricePerGiB > MaxPrice:
		return fmt.Errorf("%w: deal price above %d", ErrMalformed, int64(MaxPrice))
	case d.Collateral > MaxAmount:
		return fmt.Errorf("%w: deal collateral %d above %d", ErrMalformed, d.Collateral, int64(MaxAmount))
	case d.Start >= d.End || d.End > MaxTime:
		return fmt.Errorf("%w: deal time [%d, %d) empty or past %d", ErrMalformed, d.Start, d.End, int64(MaxTime))
	case len(d.Auditors) == 0 || len(d.Auditors) > MaxAuditors:
		return fmt.Errorf("%w: deal names %d auditors, want 1 to %d", ErrMalformed, len(d.Auditors), MaxAuditors)
	case d.Client == d.Provider:
		return fmt.Errorf("%w: deal client is its provider", ErrSelfDealing)
	}
	for i, a := range d.Auditors {
		if i > 0 && bytes.Compare(d.Auditors[i-1][:], a[:]) >= 0 {
			return fmt.Errorf("%w: deal auditors not in strictly increasing order", ErrMalformed)
		}
		if a == d.Provider {
			return fmt.Errorf("%w: deal provider is one of its auditors", ErrSelfDealing)
		}
	}
	return nil
}

func (r *Receipt) check() error {
	if r.Client == r.Provider {
		return fmt.Errorf("%w: receipt client is its provider", ErrSelfDealing)
	}
	if r.Bytes > dsn.MaxShardSize {
		return fmt.Errorf("%w: receipt of %d bytes, above %d", ErrMalformed, r.Bytes, int64(dsn.MaxShardSize))
	}
	return nil
}

func checkEpoch(epoch, secs uint64) error {
	if secs == 0 || secs > MaxEpochSeconds {
		return fmt.Errorf("%w: epoch length %d s out of range [1, %d]", ErrMalformed, secs, MaxEpochSeconds)
	}
	if epoch >= MaxTime/secs {
		return fmt.Errorf("%w: epoch %d of %d s ends past %d", ErrMalformed, epoch, secs, int64(MaxTime))
	}
	return nil
}

func (c *Credit) check() error {
	if c.Auditor == c.Provider {
		return fmt.Errorf("%w: credit signed by its provider", ErrSelfDealing)
	}
	if c.Bytes == 0 || c.Bytes > dsn.MaxShardSize {
		return fmt.Errorf("%w: credit for %d bytes out of range [1, %d]", ErrMalformed, c.Bytes, int64(dsn.MaxShardSize))
	}
	return checkEpoch(c.Epoch, c.EpochSeconds)
}

func (p *Penalty) check() error {
	if p.Outcome != OutcomeFail && p.Outcome != OutcomeMissed {
		return fmt.Errorf("%w: penalty outcome %d", ErrMalformed, p.Outcome)
	}
	if p.Amount > MaxAmount {
		return fmt.Errorf("%w: penalty of %d above %d", ErrMalformed, p.Amount, int64(MaxAmount))
	}
	return checkEpoch(p.Epoch, p.EpochSeconds)
}

func (e *End) check() error {
	switch {
	case e.Client == e.Provider:
		return fmt.Errorf("%w: end of a deal whose client is its provider", ErrSelfDealing)
	case e.Signer == e.Provider:
		return fmt.Errorf("%w: end signed by its provider", ErrSelfDealing)
	case e.Reason != EndExpired && e.Reason != EndFailed && e.Reason != EndCancelled:
		return fmt.Errorf("%w: end reason %d", ErrMalformed, e.Reason)
	case e.At < e.Start || e.At > MaxTime:
		return fmt.Errorf("%w: end at %d, before the deal's start %d or past %d", ErrMalformed, e.At, e.Start, int64(MaxTime))
	case e.Forfeit > MaxAmount:
		return fmt.Errorf("%w: forfeit of %d above %d", ErrMalformed, e.Forfeit, int64(MaxAmount))
	case e.Reason != EndFailed && e.Forfeit != 0:
		return fmt.Errorf("%w: a deal %s forfeits %d; only a failed deal forfeits collateral", ErrMalformed, e.Reason, e.Forfeit)
	}
	return nil
}

func (d *Deal) sigs(body []byte) []sigItem {
	m := signedMessage(KindDeal, body)
	return []sigItem{{d.Client, m, d.ClientSig, "client"}, {d.Provider, m, d.ProviderSig, "provider"}}
}

func (r *Receipt) sigs(body []byte) []sigItem {
	return []sigItem{{r.Client, signedMessage(KindReceipt, body), r.ClientSig, "client"}}
}

func (c *Credit) sigs(body []byte) []sigItem {
	return []sigItem{{c.Auditor, signedMessage(KindCredit, body), c.AuditorSig, "auditor"}}
}

func (p *Penalty) sigs(body []byte) []sigItem {
	return []sigItem{{p.Auditor, signedMessage(KindPenalty, body), p.AuditorSig, "auditor"}}
}

func (e *End) sigs(body []byte) []sigItem {
	return []sigItem{{e.Signer, signedMessage(KindEnd, body), e.SignerSig, "signer"}}
}

func encode(e Entry, b []byte) ([]byte, error) {
	if err := e.check(); err != nil {
		return b, err
	}
	b = e.appendBody(b)
	switch e := e.(type) {
	case *Deal:
		b = append(append(b, e.ClientSig[:]...), e.ProviderSig[:]...)
	case *Receipt:
		b = append(b, e.ClientSig[:]...)
	case *Credit:
		b = append(b, e.AuditorSig[:]...)
	case *Penalty:
		b = append(b, e.AuditorSig[:]...)
	case *End:
		b = append(b, e.SignerSig[:]...)
	}
	return b, nil
}

func (d *Deal) AppendBinary(b []byte) ([]byte, error)    { return encode(d, b) }
func (r *Receipt) AppendBinary(b []byte) ([]byte, error) { return encode(r, b) }
func (c *Credit) AppendBinary(b []byte) ([]byte, error)  { return encode(c, b) }
func (p *Penalty) AppendBinary(b []byte) ([]byte, error) { return encode(p, b) }
func (e *End) AppendBinary(b []byte) ([]byte, error)     { return encode(e, b) }

// Marshal returns the canonical encoding of e.
func Marshal(e Entry) ([]byte, error) { return e.AppendBinary(nil) }

// sign signs e's body with key, which must belong to want.
func sign(e Entry, key ed25519.PrivateKey, want PublicKey, who string) (Signature, error) {
	var s Signature
	if len(key) != ed25519.PrivateKeySize {
		return s, fmt.Errorf("sign %s: private key of %d bytes: %w", e.Kind(), len(key), ErrWrongKey)
	}
	if PublicKeyOf(key) != want {
		return s, fmt.Errorf("sign %s: key %s is not the %s %s: %w", e.Kind(), PublicKeyOf(key).Short(), who, want.Short(), ErrWrongKey)
	}
	if err := e.check(); err != nil {
		return s, fmt.Errorf("sign %s: %w", e.Kind(), err)
	}
	copy(s[:], ed25519.Sign(key, signedMessage(e.Kind(), e.appendBody(nil))))
	return s, nil
}

// SignClient signs d as its client.
func (d *Deal) SignClient(key ed25519.PrivateKey) (err error) {
	d.ClientSig, err = sign(d, key, d.Client, "client")
	return err
}

// SignProvider signs d as its provider.
func (d *Deal) SignProvider(key ed25519.PrivateKey) (err error) {
	d.ProviderSig, err = sign(d, key, d.Provider, "provider")
	return err
}

// Sign signs r as its client.
func (r *Receipt) Sign(key ed25519.PrivateKey) (err error) {
	r.ClientSig, err = sign(r, key, r.Client, "client")
	return err
}

// Sign signs c as its auditor.
func (c *Credit) Sign(key ed25519.PrivateKey) (err error) {
	c.AuditorSig, err = sign(c, key, c.Auditor, "auditor")
	return err
}

// Sign signs p as its auditor.
func (p *Penalty) Sign(key ed25519.PrivateKey) (err error) {
	p.AuditorSig, err = sign(p, key, p.Auditor, "auditor")
	return err
}

// Sign signs e as its Signer: the deal's client or one of its auditors
// (Log.Append checks which).
func (e *End) Sign(key ed25519.PrivateKey) (err error) {
	e.SignerSig, err = sign(e, key, e.Signer, "signer")
	return err
}

// MarshalJSON renders e for people and JSON tools as the node's API
// renders the other kinds: snake-case names, keys, shard and signature
// in hex, the reason as a word.
func (e *End) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"shard": e.Shard.String(), "client": e.Client.String(), "provider": e.Provider.String(),
		"signer": e.Signer.String(), "start": e.Start, "at": e.At, "reason": e.Reason.String(),
		"forfeit": e.Forfeit, "signer_sig": hex.EncodeToString(e.SignerSig[:]),
	})
}

// CheckSignatures reports whether every signature e carries is valid and
// made by the party that must make it. It needs no log: it is what a node
// checks before it passes an entry on.
func CheckSignatures(e Entry) error {
	if err := e.check(); err != nil {
		return err
	}
	items := e.sigs(e.appendBody(nil))
	for i, ok := range verifySigs(items) {
		if !ok {
			return fmt.Errorf("%w: %s signature of %s %s", ErrBadSignature, e.Kind(), items[i].who, items[i].pub.Short())
		}
	}
	return nil
}

// decoder reads fields; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("truncated in %s", what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) fixed(dst []byte, what string) { copy(dst, d.take(len(dst), what)) }

func (d *decoder) u(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n, err := varint.Uvarint(d.b)
	if err != nil {
		d.fail("%s: %v", what, err)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (e *Deal) decodeFrom(d *decoder) {
	d.fixed(e.Shard[:], "shard")
	e.Size = d.u("size")
	e.PricePerGiBMonth = d.u("storage price")
	e.PricePerGiB = d.u("bandwidth price")
	e.Collateral = d.u("collateral")
	e.Start = d.u("start")
	e.End = d.u("end")
	d.fixed(e.Client[:], "client")
	d.fixed(e.Provider[:], "provider")
	n := d.u("auditor count")
	if n > MaxAuditors {
		d.fail("%d auditors, at most %d", n, MaxAuditors)
		return
	}
	e.Auditors = make([]PublicKey, n)
	for i := range e.Auditors {
		d.fixed(e.Auditors[i][:], "auditor")
	}
	d.fixed(e.ClientSig[:], "client signature")
	d.fixed(e.ProviderSig[:], "provider signature")
}

func (e *Receipt) decodeFrom(d *decoder) {
	d.fixed(e.Provider[:], "provider")
	d.fixed(e.Client[:], "client")
	d.fixed(e.Shard[:], "shard")
	d.fixed(e.Session[:], "session")
	e.Seq = d.u("sequence")
	e.Bytes = d.u("bytes")
	d.fixed(e.ClientSig[:], "client signature")
}

func (e *Credit) decodeFrom(d *decoder) {
	d.fixed(e.Provider[:], "provider")
	d.fixed(e.Client[:], "client")
	d.fixed(e.Auditor[:], "auditor")
	d.fixed(e.Shard[:], "shard")
	e.Epoch = d.u("epoch")
	e.EpochSeconds = d.u("epoch length")
	e.Bytes = d.u("bytes")
	d.fixed(e.ProofDigest[:], "proof digest")
	d.fixed(e.AuditorSig[:], "auditor signature")
}

func (e *Penalty) decodeFrom(d *decoder) {
	d.fixed(e.Provider[:], "provider")
	d.fixed(e.Client[:], "client")
	d.fixed(e.Auditor[:], "auditor")
	d.fixed(e.Shard[:], "shard")
	e.Epoch = d.u("epoch")
	e.EpochSeconds = d.u("epoch length")
	if o := d.take(1, "outcome"); o != nil {
		e.Outcome = Outcome(o[0])
	}
	e.Amount = d.u("amount")
	d.fixed(e.AuditorSig[:], "auditor signature")
}

func (e *End) decodeFrom(d *decoder) {
	d.fixed(e.Shard[:], "shard")
	d.fixed(e.Client[:], "client")
	d.fixed(e.Provider[:], "provider")
	d.fixed(e.Signer[:], "signer")
	e.Start = d.u("start")
	e.At = d.u("at")
	if r := d.take(1, "reason"); r != nil {
		e.Reason = EndReason(r[0])
	}
	e.Forfeit = d.u("forfeit")
	d.fixed(e.SignerSig[:], "signer signature")
}

// DecodeEntry decodes one canonical entry. It checks the encoding and
// every field bound, not signatures (CheckSignatures does) nor rules that
// depend on other entries (Log.Append does). Exactly one byte string
// decodes to each entry.
func DecodeEntry(b []byte) (Entry, error) {
	if len(b) > MaxEntrySize {
		return nil, fmt.Errorf("decode entry: %d bytes, at most %d: %w", len(b), MaxEntrySize, ErrTooLarge)
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("decode entry: %w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] == 1 {
		return nil, fmt.Errorf("decode entry: version 1 predates deal collateral and ends; this build reads version %d only: %w", Version, ErrVersion)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("decode entry: version %d, want %d: %w", b[0], Version, ErrVersion)
	}
	var e Entry
	switch Kind(b[1]) {
	case KindDeal:
		e = new(Deal)
	case KindReceipt:
		e = new(Receipt)
	case KindCredit:
		e = new(Credit)
	case KindPenalty:
		e = new(Penalty)
	case KindEnd:
		e = new(End)
	default:
		return nil, fmt.Errorf("decode entry: %w: unknown kind %d", ErrMalformed, b[1])
	}
	d := &decoder{b: b[2:]}
	e.decodeFrom(d)
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.Kind(), d.err)
	}
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.Kind(), err)
	}
	return e, nil
}
