package market

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/varint"
)

// Reputations is one party's view of many providers' audit records, by
// peer: what a client keeps across restarts so that a provider that failed
// its audits is not trusted afresh because the client restarted.
type Reputations map[dsn.PeerID]Reputation

// Bounds of an encoded Reputations.
const (
	// MaxReputations is the most providers one table holds: far more
	// than one client audits.
	MaxReputations = 1 << 20
	// maxPeerIDSize bounds one peer ID's bytes; libp2p's Ed25519 IDs are
	// 38.
	maxPeerIDSize = 128
	// reputationSize is one record after its peer ID: alpha and beta as
	// IEEE-754 bits, audits, passed, vetted.
	reputationSize = 8 + 8 + 8 + 8 + 1
	// reputationsVersion is the format version, the first byte.
	reputationsVersion = 1
)

// MarshalBinary encodes the table canonically: a version byte, the
// count, then each peer (length-prefixed, in byte order) with its alpha
// and beta (float64 bits, big-endian), audits and passed (big-endian) and
// vetted (0 or 1).
func (rs Reputations) MarshalBinary() ([]byte, error) {
	if len(rs) > MaxReputations {
		return nil, fmt.Errorf("%w: %d providers, more than %d", ErrReputationsMalformed, len(rs), MaxReputations)
	}
	peers := make([]dsn.PeerID, 0, len(rs))
	for p := range rs {
		if len(p) == 0 || len(p) > maxPeerIDSize {
			return nil, fmt.Errorf("%w: peer ID of %d bytes", ErrReputationsMalformed, len(p))
		}
		peers = append(peers, p)
	}
	slices.Sort(peers)
	b := binary.AppendUvarint([]byte{reputationsVersion}, uint64(len(peers)))
	for _, p := range peers {
		r := rs[p]
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Alpha))
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Beta))
		b = binary.BigEndian.AppendUint64(b, r.Audits)
		b = binary.BigEndian.AppendUint64(b, r.Passed)
		v := byte(0)
		if r.Vetted {
			v = 1
		}
		b = append(b, v)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote, and only that: peers
// in strictly increasing order, weights finite and not negative, passed at
// most audits, vetted 0 or 1, nothing after the last record. It fails
// with ErrReputationsMalformed, saying what was wrong, and leaves rs
// unchanged then.
func (rs *Reputations) UnmarshalBinary(b []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrReputationsMalformed, fmt.Sprintf(format, args...))
	}
	if len(b) == 0 {
		return bad("empty")
	}
	if b[0] != reputationsVersion {
		return bad("format version %d, want %d", b[0], reputationsVersion)
	}
	off := 1
	uv := func(what string) (uint64, error) {
		v, n, err := varint.Uvarint(b[off:])
		if err != nil {
			return 0, bad("%s at byte %d: %v", what, off, err)
		}
		off += n
		return v, nil
	}
	count, err := uv("count")
	if err != nil {
		return err
	}
	if count > MaxReputations {
		return bad("%d providers, more than %d", count, MaxReputations)
	}
	// Each record takes at least 2+reputationSize bytes: a count the
	// input cannot hold is refused before anything is allocated for it.
	if count > uint64(len(b)-off)/(2+reputationSize) {
		return bad("%d providers in %d bytes", count, len(b)-off)
	}
	out := make(Reputations, count)
	var prev string
	for i := range count {
		n, err := uv("peer ID length")
		if err != nil {
			return err
		}
		if n == 0 || n > maxPeerIDSize {
			return bad("record %d: peer ID of %d bytes", i, n)
		}
		if uint64(len(b)-off) < n+reputationSize {
			return bad("record %d truncated", i)
		}
		p := string(b[off : off+int(n)])
		off += int(n)
		if i > 0 && p <= prev {
			return bad("record %d: peers out of order or repeated", i)
		}
		prev = p
		r := Reputation{
			Alpha:  math.Float64frombits(binary.BigEndian.Uint64(b[off:])),
			Beta:   math.Float64frombits(binary.BigEndian.Uint64(b[off+8:])),
			Audits: binary.BigEndian.Uint64(b[off+16:]),
			Passed: binary.BigEndian.Uint64(b[off+24:]),
		}
		switch v := b[off+32]; v {
		case 0:
		case 1:
			r.Vetted = true
		default:
			return bad("record %d: vetted byte %d", i, v)
		}
		off += reputationSize
		switch {
		case !(r.Alpha >= 0) || !(r.Beta >= 0) || math.IsInf(r.Alpha, 0) || math.IsInf(r.Beta, 0):
			return bad("record %d: weights %v and %v", i, r.Alpha, r.Beta)
		case r.Passed > r.Audits:
			return bad("record %d: %d passed of %d audits", i, r.Passed, r.Audits)
		}
		out[dsn.PeerID(p)] = r
	}
	if off != len(b) {
		return bad("%d bytes after the last record", len(b)-off)
	}
	*rs = out
	return nil
}
