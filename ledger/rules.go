package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// Pebble keys of a log:
//
//	o                                   -> owner public key (32)
//	n                                   -> tree size, u64be
//	e u64be(index)                      -> entry bytes
//	h u64be(stored hash index)          -> tlog stored hash (32)
//	c u64be(sequence)                   -> published checkpoint (note bytes)
//	D shard client provider u64be(start) -> u64be(end) u64be(entry index)
//	S client session                    -> receipt session state (see session)
//	O u64be(deal index) u64be(epoch)    -> kind (1) u64be(entry index)
//	E u64be(deal index)                 -> u64be(epoch length)
//	F u64be(deal index)                 -> u64be(penalties since the last credit)
//	X u64be(deal index)                 -> u64be(at) u64be(End entry index)
//	C u64be(deal index)                 -> u64be(until): an earlier deal's epoch runs on in it to until
//	A party                             -> u64be(the party's account total, see MaxAccountTotal)
//
// The upper-case keys are indexes derived from the entries: Append reads
// them to apply the rules, and Verify rebuilds them from scratch in a
// separate store rather than trusting them.
const (
	keyOwner      = 'o'
	keySize       = 'n'
	keyEntry      = 'e'
	keyHash       = 'h'
	keyCheckpoint = 'c'
	keyDeal       = 'D'
	keySession    = 'S'
	keyOutcome    = 'O'
	keyEpochLen   = 'E'
	keyFailures   = 'F'
	keyEnded      = 'X'
	keyCarried    = 'C'
	keyAccount    = 'A'
)

func u64Key(prefix byte, v uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefix}, v)
}

// reader is what reading needs of a store: the database, a snapshot or
// an indexed batch.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// kv is what the rules need of a store: an indexed pebble batch when
// appending, a scratch database's batch when verifying.
type kv interface {
	reader
	Set(key, value []byte, o *pebble.WriteOptions) error
}

// get returns a copy of key's value, or nil if absent.
func get(r reader, key []byte) ([]byte, error) {
	v, c, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	return out, c.Close()
}

// rules applies the rules that relate an entry to earlier ones. Its
// state lives in kv, so that it survives restarts and costs no memory.
type rules struct {
	owner PublicKey
	s     kv
	// Caches for one batch, whose entries the rules see in order: deals
	// never change once logged, and totals change only through charge.
	deals  map[int64]*Deal
	totals map[PublicKey]uint64
}

func dealPrefix(k triple) []byte {
	b := make([]byte, 0, 1+96+8)
	b = append(b, keyDeal)
	b = append(b, k.shard[:]...)
	b = append(b, k.client[:]...)
	return append(b, k.provider[:]...)
}

// triple identifies the deals between one client and one provider for
// one shard.
type triple struct {
	shard            [32]byte
	client, provider PublicKey
}

// dealBefore returns the deal for k with the greatest start below t: its
// end and index, ok false if none.
func (r *rules) dealBefore(k triple, t uint64) (end uint64, idx int64, ok bool, err error) {
	p := dealPrefix(k)
	it, err := r.s.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: binary.BigEndian.AppendUint64(bytes.Clone(p), t)})
	if err != nil {
		return 0, 0, false, err
	}
	if it.Last() {
		v := it.Value()
		if len(v) != 16 {
			it.Close()
			return 0, 0, false, fmt.Errorf("%w: deal index value of %d bytes", ErrCorrupt, len(v))
		}
		end, idx, ok = binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:])), true
	}
	return end, idx, ok, it.Close()
}

// MaxRenewalHops bounds the renewals one epoch may span: an epoch is
// shorter than a deal in practice, and a log of many tiny deals must not
// make one check walk them all.
const MaxRenewalHops = 16

// dealAt returns the deal for k that starts exactly at t: its end and
// index, found false if none.
func (r *rules) dealAt(k triple, t uint64) (end uint64, idx int64, found bool, err error) {
	v, err := get(r.s, binary.BigEndian.AppendUint64(dealPrefix(k), t))
	if err != nil || v == nil {
		return 0, 0, false, err
	}
	if len(v) != 16 {
		return 0, 0, false, fmt.Errorf("%w: deal index value of %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:])), true, nil
}

// readDeal returns the deal entry at idx.
func (r *rules) readDeal(idx int64) (*Deal, error) {
	if d, ok := r.deals[idx]; ok {
		return d, nil
	}
	b, err := get(r.s, u64Key(keyEntry, uint64(idx)))
	if err != nil {
		return nil, err
	}
	e, err := DecodeEntry(b)
	if err != nil {
		return nil, fmt.Errorf("%w: deal at %d: %v", ErrCorrupt, idx, err)
	}
	d, ok := e.(*Deal)
	if !ok {
		return nil, fmt.Errorf("%w: index points at a %s at %d, not a deal", ErrCorrupt, e.Kind(), idx)
	}
	if r.deals == nil {
		r.deals = map[int64]*Deal{}
	}
	r.deals[idx] = d
	return d, nil
}

// party checks that the owner has a part in e.
func (r *rules) party(e Entry) error {
	o := r.owner
	switch e := e.(type) {
	case *Deal:
		if o == e.Client || o == e.Provider {
			return nil
		}
		for _, a := range e.Auditors {
			if o == a {
				return nil
			}
		}
	case *Receipt:
		// The provider logs receipts because they are what it is paid
		// on, the client because they are what it owes.
		if o == e.Provider || o == e.Client {
			return nil
		}
		return fmt.Errorf("%w: receipt names provider %s and client %s, this log is %s's", ErrNotParty, e.Provider.Short(), e.Client.Short(), o.Short())
	case *Credit:
		if o == e.Provider || o == e.Client || o == e.Auditor {
			return nil
		}
	case *Penalty:
		if o == e.Provider || o == e.Client || o == e.Auditor {
			return nil
		}
	case *End:
		if o == e.Provider || o == e.Client || o == e.Signer {
			return nil
		}
	}
	return fmt.Errorf("%w: %s does not name %s", ErrNotParty, e.Kind(), o.Short())
}

// apply checks e, the entry at idx, against earlier entries and records
// what later entries are checked against. Signatures and party are
// checked before.
func (r *rules) apply(e Entry, idx int64) error {
	switch e := e.(type) {
	case *Deal:
		return r.deal(e, idx)
	case *Receipt:
		return r.receipt(e)
	case *Credit:
		return r.outcome(e, triple{e.Shard, e.Client, e.Provider}, e.Auditor, e.Epoch, e.EpochSeconds, idx)
	case *Penalty:
		return r.outcome(e, triple{e.Shard, e.Client, e.Provider}, e.Auditor, e.Epoch, e.EpochSeconds, idx)
	case *End:
		return r.end(e, idx)
	}
	panic("ledger: unknown entry type")
}

func (r *rules) deal(d *Deal, idx int64) error {
	k := triple{d.Shard, d.Client, d.Provider}
	// Deals of one triple never overlap, so the one starting last before
	// d ends is the only one that can.
	end, prev, ok, err := r.dealBefore(k, d.End)
	if err != nil {
		return err
	}
	if ok && end > d.Start {
		return fmt.Errorf("%w: deal at index %d", ErrDealOverlap, prev)
	}
	v := binary.BigEndian.AppendUint64(nil, d.End)
	v = binary.BigEndian.AppendUint64(v, uint64(idx))
	return r.s.Set(binary.BigEndian.AppendUint64(dealPrefix(k), d.Start), v, nil)
}

// session is the state of one receipt session: the last sequence number
// and byte count, the shard, and the deal it is priced by.
type session struct {
	seq, bytes uint64
	shard      [32]byte
	deal       int64
	size       uint64
}

const sessionSize = 8 + 8 + 32 + 8 + 8

func sessionKey(client PublicKey, id SessionID) []byte {
	b := make([]byte, 0, 1+32+16)
	b = append(b, keySession)
	b = append(b, client[:]...)
	return append(b, id[:]...)
}

func (s *session) marshal() []byte {
	b := make([]byte, 0, sessionSize)
	b = binary.BigEndian.AppendUint64(b, s.seq)
	b = binary.BigEndian.AppendUint64(b, s.bytes)
	b = append(b, s.shard[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.deal))
	return binary.BigEndian.AppendUint64(b, s.size)
}

func (s *session) unmarshal(b []byte) error {
	if len(b) != sessionSize {
		return fmt.Errorf("%w: session state of %d bytes", ErrCorrupt, len(b))
	}
	s.seq = binary.BigEndian.Uint64(b)
	s.bytes = binary.BigEndian.Uint64(b[8:])
	copy(s.shard[:], b[16:48])
	s.deal = int64(binary.BigEndian.Uint64(b[48:]))
	s.size = binary.BigEndian.Uint64(b[56:])
	return nil
}

func (r *rules) receipt(e *Receipt) error {
	key := sessionKey(e.Client, e.Session)
	v, err := get(r.s, key)
	if err != nil {
		return err
	}
	var s session
	if v != nil {
		if err := s.unmarshal(v); err != nil {
			return err
		}
		switch {
		case s.shard != e.Shard:
			return fmt.Errorf("%w: session %x is for shard %x", ErrSessionMismatch, e.Session[:4], s.shard[:6])
		case e.Seq <= s.seq:
			return fmt.Errorf("%w: sequence %d after %d in session %x", ErrSequence, e.Seq, s.seq, e.Session[:4])
		case e.Bytes < s.bytes:
			return fmt.Errorf("%w: %d bytes after %d in session %x", ErrBytesDecreased, e.Bytes, s.bytes, e.Session[:4])
		}
	} else {
		// A session is priced by the deal in force when it starts: the
		// latest one of its shard and parties.
		_, idx, ok, err := r.dealBefore(triple{e.Shard, e.Client, e.Provider}, math.MaxUint64)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: receipt for shard %x from client %s", ErrNoDeal, e.Shard[:6], e.Client.Short())
		}
		d, err := r.readDeal(idx)
		if err != nil {
			return err
		}
		s = session{shard: e.Shard, deal: idx, size: d.Size}
	}
	if e.Bytes > s.size {
		return fmt.Errorf("%w: receipt for %d bytes of a %d-byte shard", ErrTerms, e.Bytes, s.size)
	}
	// The bytes the receipt adds, and their price rounded up, go to the
	// parties' account totals (see MaxAccountTotal).
	if delta := e.Bytes - s.bytes; delta > 0 {
		d, err := r.readDeal(s.deal)
		if err != nil {
			return err
		}
		bw := mul(delta, d.PricePerGiB) // < 2^71
		v, _ := bw.div(GiB)             // < 2^41
		if bw.rem(GiB) != 0 {
			v++
		}
		if err := r.charge(triple{e.Shard, e.Client, e.Provider}, delta+v); err != nil {
			return err
		}
	}
	s.seq, s.bytes = e.Seq, e.Bytes
	return r.s.Set(key, s.marshal(), nil)
}

// outcome applies a credit or a penalty e: the deal it belongs to, the
// renewals it runs on into, its auditor, terms, epoch length and epoch.
func (r *rules) outcome(e Entry, k triple, auditor PublicKey, epoch, secs uint64, idx int64) error {
	from, to := epoch*secs, (epoch+1)*secs // bounded by check
	end, di, ok, err := r.dealBefore(k, from+1)
	if err != nil {
		return err
	}
	if !ok || end <= from {
		return fmt.Errorf("%w: no deal covers epoch %d ([%d, %d)) of shard %x", ErrNoDeal, epoch, from, to, k.shard[:6])
	}
	// An epoch that outlasts the deal it starts in is covered when
	// renewals carry it on without a gap: the outcome belongs to the
	// deal the epoch starts in, so a renewal boundary neither loses an
	// epoch nor counts one twice.
	type hop struct {
		di   int64
		upto uint64 // where the epoch's part in the deal ends
	}
	var crossed []hop
	for hops := 0; end < to; hops++ {
		next, ni, found, err := r.dealAt(k, end)
		if err != nil {
			return err
		}
		if !found || hops == MaxRenewalHops {
			return fmt.Errorf("%w: no deal covers epoch %d ([%d, %d)) of shard %x past %d", ErrNoDeal, epoch, from, to, k.shard[:6], end)
		}
		crossed = append(crossed, hop{ni, min(next, to)})
		end = next
	}
	d, err := r.readDeal(di)
	if err != nil {
		return err
	}
	named := false
	for _, a := range d.Auditors {
		named = named || a == auditor
	}
	if !named {
		return fmt.Errorf("%w: %s, deal at index %d", ErrNotAuditor, auditor.Short(), di)
	}
	// What the entry adds to its parties' accounts (see MaxAccountTotal).
	var charge uint64
	switch e := e.(type) {
	case *Credit:
		if e.Bytes != d.Size {
			return fmt.Errorf("%w: credit for %d bytes, deal for %d", ErrTerms, e.Bytes, d.Size)
		}
		charge = epochValue(d, secs, true)
	case *Penalty:
		// The deal's terms fix what a missed or failed epoch costs, as
		// they fix its collateral: an auditor (the client, who is paid)
		// cannot name its own price.
		if want := PenaltyAmount(d, secs); e.Amount != want {
			return fmt.Errorf("%w: penalty of %d for an epoch of %d s, the deal's terms give %d", ErrTerms, e.Amount, secs, want)
		}
		charge = e.Amount
	}
	at, endIdx, ended, err := r.ended(di)
	if err != nil {
		return err
	}
	if ended && from >= at {
		return fmt.Errorf("%w: epoch %d starts at %d, the deal at index %d ended at %d (entry %d)", ErrDealEnded, epoch, from, di, at, endIdx)
	}
	// Epoch numbers mean nothing without their length: the deal's first
	// audit fixes it, so that two lengths cannot credit one hour twice.
	if err := r.epochLen(di, secs); err != nil {
		return err
	}
	// A renewal the epoch runs on into must not have ended before the
	// epoch's part in it does, and takes the same epoch length, fixed
	// now if it has none: its own epochs are then cells of the same grid
	// and cannot overlap this one. Where the epoch reaches in it is kept,
	// so that no End logged later can cut it short either.
	for _, h := range crossed {
		if at, endIdx, ended, err := r.ended(h.di); err != nil {
			return err
		} else if ended && at < h.upto {
			return fmt.Errorf("%w: epoch %d ([%d, %d)) runs on to %d in the renewal at index %d, which ended at %d (entry %d)", ErrDealEnded, epoch, from, to, h.upto, h.di, at, endIdx)
		}
		if err := r.epochLen(h.di, secs); err != nil {
			return fmt.Errorf("epoch %d runs on into the renewal at index %d: %w", epoch, h.di, err)
		}
		until, err := r.carried(h.di)
		if err != nil {
			return err
		}
		if h.upto > until {
			if err := r.s.Set(u64Key(keyCarried, uint64(h.di)), binary.BigEndian.AppendUint64(nil, h.upto), nil); err != nil {
				return err
			}
		}
	}
	ok2 := binary.BigEndian.AppendUint64(u64Key(keyOutcome, uint64(di)), epoch)
	v, err := get(r.s, ok2)
	if err != nil {
		return err
	}
	if v != nil {
		prev := int64(-1)
		if len(v) == 9 {
			prev = int64(binary.BigEndian.Uint64(v[1:]))
		}
		return fmt.Errorf("%w: epoch %d of deal at index %d, entry %d", ErrDuplicateOutcome, epoch, di, prev)
	}
	if err := r.charge(k, charge); err != nil {
		return err
	}
	if err := r.s.Set(ok2, binary.BigEndian.AppendUint64([]byte{byte(e.Kind())}, uint64(idx)), nil); err != nil {
		return err
	}
	// The run of penalties since the last credit, in log order: what an
	// End of reason failed is checked against.
	run, err := r.failures(di)
	if err != nil {
		return err
	}
	if e.Kind() == KindCredit {
		run = 0
	} else {
		run++
	}
	return r.s.Set(u64Key(keyFailures, uint64(di)), binary.BigEndian.AppendUint64(nil, run), nil)
}

// epochLen checks that deal di's audits use epochs of secs, and records
// secs as its length if none is yet.
func (r *rules) epochLen(di int64, secs uint64) error {
	lk := u64Key(keyEpochLen, uint64(di))
	v, err := get(r.s, lk)
	switch {
	case err != nil:
		return err
	case v == nil:
		return r.s.Set(lk, binary.BigEndian.AppendUint64(nil, secs), nil)
	case len(v) != 8:
		return fmt.Errorf("%w: epoch length of %d bytes", ErrCorrupt, len(v))
	case binary.BigEndian.Uint64(v) != secs:
		return fmt.Errorf("%w: epoch of %d s, the deal's audits use %d s", ErrTerms, secs, binary.BigEndian.Uint64(v))
	}
	return nil
}

// carried returns how far into deal di an epoch of an earlier deal runs,
// 0 if none does.
func (r *rules) carried(di int64) (uint64, error) {
	v, err := get(r.s, u64Key(keyCarried, uint64(di)))
	switch {
	case err != nil || v == nil:
		return 0, err
	case len(v) != 8:
		return 0, fmt.Errorf("%w: carried epoch record of %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// MaxAccountTotal bounds, per party, the sum of everything the entries
// of one log add to its Account, fields of both roles together: credit
// values and receipts' bandwidth (each rounded up), bytes served, penalty
// amounts and forfeits. Every Account field is at most that sum, so
// Balance never overflows on a log the rules accepted. Reaching it takes
// billions of units: no real trade comes near it.
const MaxAccountTotal = 1 << 63

// accountLimit is MaxAccountTotal; tests lower it to reach it.
var accountLimit uint64 = MaxAccountTotal

// charge adds v to the account totals of k's client and provider,
// refusing the entry if either would pass accountLimit.
func (r *rules) charge(k triple, v uint64) error {
	if v == 0 {
		return nil
	}
	if r.totals == nil {
		r.totals = map[PublicKey]uint64{}
	}
	for _, p := range []PublicKey{k.provider, k.client} {
		key := append([]byte{keyAccount}, p[:]...)
		total, ok := r.totals[p]
		if !ok {
			b, err := get(r.s, key)
			if err != nil {
				return err
			}
			switch len(b) {
			case 0:
			case 8:
				total = binary.BigEndian.Uint64(b)
			default:
				return fmt.Errorf("%w: account total of %d bytes", ErrCorrupt, len(b))
			}
		}
		if total > accountLimit || v > accountLimit-total {
			return fmt.Errorf("%w: the entry adds %d to the %d already in %s's account, past the bound of %d", ErrTerms, v, total, p.Short(), accountLimit)
		}
		if err := r.s.Set(key, binary.BigEndian.AppendUint64(nil, total+v), nil); err != nil {
			return err
		}
		r.totals[p] = total + v
	}
	return nil
}

// epochValue is what keeping deal d's shard for one epoch of secs
// earns, in nano-units: size × seconds × price / (GiB × month), rounded
// up if up, else down. It is below 2^46 (size ≤ 2^31, secs < 2^25,
// price ≤ 2^40).
func epochValue(d *Deal, secs uint64, up bool) uint64 {
	num := mul(d.Size*secs, d.PricePerGiBMonth) // d.Size*secs < 2^56
	q, _ := num.div(GiB * MonthSeconds)         // below 2^46: fits
	if up && num.rem(GiB*MonthSeconds) != 0 {
		q++
	}
	return q
}

// PenaltyAmount is the Amount of the Penalty for an epoch of epochSeconds
// of deal d that failed or was missed, the only amount the rules accept:
// twice what the epoch would have earned (the credit lost and as much
// again), rounded down, at least one nano-unit, at most MaxAmount. It is
// market.EpochPenalty and node/book.Penalty, with the same arithmetic.
func PenaltyAmount(d *Deal, epochSeconds uint64) uint64 {
	return max(1, min(epochValue(d, epochSeconds, false), MaxAmount/2)*2)
}

// failures returns the penalties logged for deal di since its last credit.
func (r *rules) failures(di int64) (uint64, error) {
	v, err := get(r.s, u64Key(keyFailures, uint64(di)))
	switch {
	case err != nil:
		return 0, err
	case v == nil:
		return 0, nil
	case len(v) != 8:
		return 0, fmt.Errorf("%w: failure count of %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// ended returns when deal di ended and the index of its End, ok false if
// it has not.
func (r *rules) ended(di int64) (at uint64, idx int64, ok bool, err error) {
	v, err := get(r.s, u64Key(keyEnded, uint64(di)))
	switch {
	case err != nil || v == nil:
		return 0, 0, false, err
	case len(v) != 16:
		return 0, 0, false, fmt.Errorf("%w: end record of %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:])), true, nil
}

// lastOutcome returns the start of the latest epoch with a credit or
// penalty of deal di, ok false if there is none.
func (r *rules) lastOutcome(di int64) (from uint64, ok bool, err error) {
	p := u64Key(keyOutcome, uint64(di))
	it, err := r.s.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: u64Key(keyOutcome, uint64(di)+1)})
	if err != nil {
		return 0, false, err
	}
	var epoch uint64
	if it.Last() {
		k := it.Key()
		if len(k) != 17 {
			it.Close()
			return 0, false, fmt.Errorf("%w: outcome key %x", ErrCorrupt, k)
		}
		epoch, ok = binary.BigEndian.Uint64(k[9:]), true
	}
	if err := it.Close(); err != nil || !ok {
		return 0, false, err
	}
	v, err := get(r.s, u64Key(keyEpochLen, uint64(di)))
	if err != nil {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("%w: deal %d has outcomes and an epoch length of %d bytes", ErrCorrupt, di, len(v))
	}
	return epoch * binary.BigEndian.Uint64(v), true, nil
}

// end applies an End: the deal it names exists and has not ended, its
// signer may end it, At lies within it, and the reason holds.
func (r *rules) end(e *End, idx int64) error {
	k := triple{e.Shard, e.Client, e.Provider}
	v, err := get(r.s, binary.BigEndian.AppendUint64(dealPrefix(k), e.Start))
	if err != nil {
		return err
	}
	if v == nil {
		return fmt.Errorf("%w: end of a deal for shard %x starting at %d", ErrNoDeal, e.Shard[:6], e.Start)
	}
	if len(v) != 16 {
		return fmt.Errorf("%w: deal index value of %d bytes", ErrCorrupt, len(v))
	}
	di := int64(binary.BigEndian.Uint64(v[8:]))
	d, err := r.readDeal(di)
	if err != nil {
		return err
	}
	named := e.Signer == d.Client
	for _, a := range d.Auditors {
		named = named || a == e.Signer
	}
	if !named {
		return fmt.Errorf("%w: end signed by %s, neither client nor auditor of the deal at index %d", ErrNotAuditor, e.Signer.Short(), di)
	}
	if _, prev, ok, err := r.ended(di); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: the deal at index %d was ended by entry %d", ErrDealEnded, di, prev)
	}
	if e.At > d.End {
		return fmt.Errorf("%w: end at %d, after the deal's end %d", ErrTerms, e.At, d.End)
	}
	switch e.Reason {
	case EndExpired:
		if e.At != d.End {
			return fmt.Errorf("%w: expired at %d, the deal ends at %d", ErrTerms, e.At, d.End)
		}
	case EndFailed:
		run, err := r.failures(di)
		if err != nil {
			return err
		}
		if run < MaxConsecutiveFailures {
			return fmt.Errorf("%w: failed after %d penalties in a row, %d needed", ErrTerms, run, MaxConsecutiveFailures)
		}
		if e.Forfeit != d.Collateral {
			return fmt.Errorf("%w: forfeit of %d, the deal's collateral is %d", ErrTerms, e.Forfeit, d.Collateral)
		}
	}
	// An End cannot undo what is logged: no credit or penalty may already
	// stand for an epoch from At on.
	if from, ok, err := r.lastOutcome(di); err != nil {
		return err
	} else if ok && from >= e.At {
		return fmt.Errorf("%w: end at %d, an epoch from %d already has a credit or penalty", ErrTerms, e.At, from)
	}
	// Nor cut short an epoch of an earlier deal that runs on into this
	// one.
	if until, err := r.carried(di); err != nil {
		return err
	} else if e.At < until {
		return fmt.Errorf("%w: end at %d, an epoch of the deal it renews already runs on in it to %d", ErrTerms, e.At, until)
	}
	if err := r.charge(k, e.Forfeit); err != nil {
		return err
	}
	val := binary.BigEndian.AppendUint64(nil, e.At)
	val = binary.BigEndian.AppendUint64(val, uint64(idx))
	return r.s.Set(u64Key(keyEnded, uint64(di)), val, nil)
}
