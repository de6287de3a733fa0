package market

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/dsn-project/dsn"
)

func sampleReputations(t testing.TB) Reputations {
	p := DefaultReputation
	good, flaky := p.New(), p.New()
	for i := range 150 {
		var err error
		if good, err = p.Update(good, AuditPass); err != nil {
			t.Fatal(err)
		}
		o := AuditPass
		if i%3 == 0 {
			o = AuditMissed
		}
		if flaky, err = p.Update(flaky, o); err != nil {
			t.Fatal(err)
		}
	}
	return Reputations{"peer-good": good, "peer-flaky": flaky, "peer-new": p.New()}
}

func TestReputationsRoundTrip(t *testing.T) {
	for _, rs := range []Reputations{{}, sampleReputations(t)} {
		b, err := rs.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(%d providers) = %v", len(rs), err)
		}
		var got Reputations
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(MarshalBinary(%d providers)) = %v", len(rs), err)
		}
		if !reflect.DeepEqual(got, rs) {
			t.Errorf("round trip = %+v, want %+v", got, rs)
		}
		again, _ := got.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Errorf("encoding is not canonical: %x, then %x", b, again)
		}
	}
	// A provider's score survives the round trip exactly: a restart does
	// not move anyone across the threshold.
	rs := sampleReputations(t)
	b, _ := rs.MarshalBinary()
	var got Reputations
	_ = got.UnmarshalBinary(b)
	if got["peer-flaky"].Score() != rs["peer-flaky"].Score() || got["peer-flaky"].Score() >= DefaultMinScore {
		t.Errorf("flaky score after round trip = %v, want %v, below %v", got["peer-flaky"].Score(), rs["peer-flaky"].Score(), DefaultMinScore)
	}
	if !got["peer-good"].Vetted {
		t.Errorf("a provider with 150 passes is not vetted after a round trip")
	}
}

func TestReputationsMalformed(t *testing.T) {
	good, err := sampleReputations(t).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	rec := func(peer string, alpha, beta float64, audits, passed uint64, vetted byte) []byte {
		b := []byte{byte(len(peer))}
		b = append(b, peer...)
		for _, v := range []uint64{math.Float64bits(alpha), math.Float64bits(beta), audits, passed} {
			b = append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		}
		return append(b, vetted)
	}
	table := func(recs ...[]byte) []byte {
		b := []byte{reputationsVersion, byte(len(recs))}
		for _, r := range recs {
			b = append(b, r...)
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown version", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"count beyond the input", []byte{reputationsVersion, 0xff, 0x7f}},
		{"non-minimal count", []byte{reputationsVersion, 0x80, 0x00}},
		{"empty peer ID", table(rec("", 1, 0, 0, 0, 0))},
		{"peers out of order", table(rec("b", 1, 0, 1, 1, 0), rec("a", 1, 0, 1, 1, 0))},
		{"peer repeated", table(rec("a", 1, 0, 1, 1, 0), rec("a", 1, 0, 1, 1, 0))},
		{"negative alpha", table(rec("a", -1, 0, 1, 1, 0))},
		{"NaN beta", table(rec("a", 1, math.NaN(), 1, 1, 0))},
		{"infinite alpha", table(rec("a", math.Inf(1), 0, 1, 1, 0))},
		{"more passed than audits", table(rec("a", 1, 0, 1, 2, 0))},
		{"vetted byte 2", table(rec("a", 1, 0, 1, 1, 2))},
	}
	for _, tc := range tests {
		kept := Reputations{"x": {Alpha: 1}}
		err := kept.UnmarshalBinary(tc.b)
		if !errors.Is(err, ErrReputationsMalformed) {
			t.Errorf("UnmarshalBinary(%s) = %v, want ErrReputationsMalformed", tc.name, err)
		}
		if len(kept) != 1 || kept["x"].Alpha != 1 {
			t.Errorf("UnmarshalBinary(%s) changed the table on failure: %+v", tc.name, kept)
		}
	}
	if _, err := (Reputations{dsn.PeerID(""): {}}).MarshalBinary(); !errors.Is(err, ErrReputationsMalformed) {
		t.Errorf("MarshalBinary(empty peer ID) = %v, want ErrReputationsMalformed", err)
	}
}

func FuzzReputations(f *testing.F) {
	good, err := sampleReputations(f).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{reputationsVersion, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var rs Reputations
		if err := rs.UnmarshalBinary(b); err != nil {
			return
		}
		// What decodes re-encodes to the same bytes: one encoding per
		// table.
		again, err := rs.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("MarshalBinary(UnmarshalBinary(%x)) = %x, %v", b, again, err)
		}
		for p, r := range rs {
			if sc := r.Score(); !(sc >= 0 && sc <= 1) {
				t.Fatalf("decoded %q scores %v", p, sc)
			}
		}
	})
}
