package market

import (
	"errors"
	"slices"
	"testing"

	"github.com/dsn-project/dsn"
)

// pool is a set of candidates by name for selection tests.
func pool(t *testing.T) map[string]Candidate {
	t.Helper()
	vetted := Reputation{Alpha: 1000, Passed: 100, Audits: 100, Vetted: true}
	fresh := Reputation{}
	ask := func(f func(*Ask)) *Ask {
		a := testAsk(t, 1, 1)
		if f != nil {
			f(&a)
		}
		return &a
	}
	c := func(name string, a *Ask, r Reputation, nets ...string) Candidate {
		return Candidate{Peer: dsn.PeerID(name), Ask: a, Rep: r, Subnets: nets}
	}
	cs := []Candidate{
		c("a", ask(nil), vetted, "n1"),
		c("b", ask(nil), vetted, "n1"),
		c("c", ask(nil), vetted, "n2"),
		c("d", ask(nil), vetted, "n2", "n5"),
		c("nonet", ask(nil), vetted),
		c("noask", nil, vetted, "n9"),
		c("pricey", ask(func(a *Ask) { a.PricePerGiBMonth = 3e9 }), vetted, "n9"),
		c("expired", ask(func(a *Ask) { a.ValidUntil = uint64(t0.Unix()) }), vetted, "n9"),
		c("full", ask(func(a *Ask) { a.FreeCapacity = 1 << 10 }), vetted, "n9"),
		c("bad", ask(nil), Reputation{Alpha: 90, Beta: 10, Passed: 500, Vetted: true}, "n9"),
		c("new1", ask(nil), fresh, "n3"),
		c("new2", ask(nil), fresh, "n4"),
	}
	m := make(map[string]Candidate)
	for _, x := range cs {
		m[string(x.Peer)] = x
	}
	return m
}

var testLimits = ClientLimits{MaxPricePerGiBMonth: 2e9, MinScore: DefaultMinScore, MaxUnvetted: 1}

func TestPick(t *testing.T) {
	p := pool(t)
	names := func(ns ...string) []Candidate {
		out := make([]Candidate, len(ns))
		for i, n := range ns {
			out[i] = p[n]
		}
		return out
	}
	tests := []struct {
		name  string
		held  []string // already holding shards of the segment
		cands []string
		want  string // "" for none
		skips []error
	}{
		{"closest", nil, []string{"a", "b", "c"}, "a", nil},
		{"every refusal reason", []string{"b"},
			[]string{"noask", "pricey", "expired", "full", "bad", "b", "c"}, "c",
			[]error{ErrNoAsk, ErrPriceTooHigh, ErrAskExpired, ErrNoCapacity, ErrLowReputation, ErrTaken}},
		{"farther for another network", []string{"a"}, []string{"b", "c"}, "c", []error{ErrSameSubnet}},
		{"any shared network clashes", []string{"c"}, []string{"d", "nonet"}, "nonet", []error{ErrSameSubnet}},
		{"no address clashes with nothing", []string{"a"}, []string{"nonet", "c"}, "nonet", nil},
		{"closest when every network is used", []string{"a", "c"}, []string{"pricey", "b", "d"}, "b", []error{ErrPriceTooHigh}},
		{"one unvetted allowed", []string{"a"}, []string{"new1", "c"}, "new1", nil},
		{"second unvetted refused", []string{"new1"}, []string{"new2", "c"}, "c", []error{ErrUnvettedLimit}},
		{"none acceptable", []string{"a"}, []string{"a", "noask", "bad"}, "", []error{ErrTaken, ErrNoAsk, ErrLowReputation}},
		{"no candidates", nil, nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seg Segment
			for _, h := range tt.held {
				seg.Take(p[h])
			}
			got, skips, err := seg.Pick(3, names(tt.cands...), testLimits, 1<<20, t0)
			if tt.want == "" {
				if !errors.Is(err, ErrNoCandidate) {
					t.Fatalf("Pick = %s, %v; want %v", got.Peer, err, ErrNoCandidate)
				}
			} else if err != nil || string(got.Peer) != tt.want {
				t.Fatalf("Pick = %s, %v; want %s", got.Peer, err, tt.want)
			}
			if len(skips) != len(tt.skips) {
				t.Fatalf("Pick skipped %v, want %d skips %v", skips, len(tt.skips), tt.skips)
			}
			for i, s := range skips {
				if s.Shard != 3 || s.Peer != dsn.PeerID(tt.cands[i]) || !errors.Is(s.Reason, tt.skips[i]) {
					t.Errorf("skip %d = %v, want shard 3: %s: %v", i, s, tt.cands[i], tt.skips[i])
				}
			}
			if tt.want != "" && !seg.Holds(got.Peer) {
				t.Errorf("Pick did not take %s", got.Peer)
			}
		})
	}
}

func TestSegmentRelease(t *testing.T) {
	p := pool(t)
	var seg Segment
	seg.Take(p["new1"])
	seg.Take(p["new1"]) // twice counts once
	if _, _, err := seg.Pick(0, []Candidate{p["new2"]}, testLimits, 1<<20, t0); !errors.Is(err, ErrNoCandidate) {
		t.Fatalf("second unvetted provider taken: %v", err)
	}
	seg.Release(p["new1"])
	seg.Release(p["new1"])
	if got, _, err := seg.Pick(0, []Candidate{p["new1"], p["new2"]}, testLimits, 1<<20, t0); err != nil || got.Peer != "new1" {
		t.Fatalf("after Release, Pick = %s, %v; want new1", got.Peer, err)
	}
	seg.Take(p["a"])
	seg.Release(p["a"])
	if got, skips, _ := seg.Pick(1, []Candidate{p["b"]}, testLimits, 1<<20, t0); got.Peer != "b" || len(skips) != 0 {
		t.Fatalf("released network still counted: Pick = %s, skips %v", got.Peer, skips)
	}
}

func TestSelectSegment(t *testing.T) {
	p := pool(t)
	order := func(ns ...string) []Candidate {
		var out []Candidate
		for _, n := range ns {
			out = append(out, p[n])
		}
		return out
	}
	// Six shards (4+2), each with its own ranking, as Rank gives for
	// different keys.
	cands := [][]Candidate{
		order("a", "b", "c", "d", "new1", "new2"),
		order("b", "new1", "a", "c", "d"),
		order("new2", "c", "bad", "d", "nonet"),
		order("pricey", "d", "nonet", "a"),
		order("a", "nonet", "b"),
		order("noask", "b", "d"),
	}
	// Shard 0: a. 1: b shares a's network, new1 is the one unvetted
	// allowed. 2: new2 would be a second unvetted, c is on a new network.
	// 3: pricey is over the limit, d shares c's network, nonet clashes
	// with nothing. 4: a and nonet hold shards, b is on a used network
	// but the only one left. 5: the same for d.
	want := []string{"a", "new1", "c", "nonet", "b", "d"}
	wantSkips := []struct {
		shard  int
		peer   string
		reason error
	}{
		{1, "b", ErrSameSubnet},
		{2, "new2", ErrUnvettedLimit},
		{3, "pricey", ErrPriceTooHigh}, {3, "d", ErrSameSubnet},
		{4, "a", ErrTaken}, {4, "nonet", ErrTaken},
		{5, "noask", ErrNoAsk}, {5, "b", ErrTaken},
	}
	picks, skips, err := Select(cands, testLimits, 1<<20, t0)
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	var got []string
	for _, c := range picks {
		got = append(got, string(c.Peer))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Select = %v, want %v", got, want)
	}
	if len(skips) != len(wantSkips) {
		t.Fatalf("skips = %v, want %d", skips, len(wantSkips))
	}
	for i, w := range wantSkips {
		if s := skips[i]; s.Shard != w.shard || string(s.Peer) != w.peer || !errors.Is(s.Reason, w.reason) {
			t.Errorf("skip %d = %v, want shard %d: skip %s: %v", i, s, w.shard, w.peer, w.reason)
		}
	}
}

func TestSelectErrors(t *testing.T) {
	p := pool(t)
	cands := [][]Candidate{{p["a"]}, {p["a"], p["noask"]}}
	picks, skips, err := Select(cands, testLimits, 1<<20, t0)
	if !errors.Is(err, ErrNoCandidate) || len(picks) != 1 || picks[0].Peer != "a" {
		t.Fatalf("Select = %v, %v; want [a] and %v", picks, err, ErrNoCandidate)
	}
	if len(skips) != 2 || !errors.Is(skips[0].Reason, ErrTaken) || !errors.Is(skips[1].Reason, ErrNoAsk) || skips[0].Shard != 1 {
		t.Fatalf("skips = %v, want shard 1: a taken, noask without ask", skips)
	}
}

// TestSelectIsDeterministic: the same inputs give the same placement.
func TestSelectIsDeterministic(t *testing.T) {
	p := pool(t)
	var all []Candidate
	for _, n := range []string{"a", "b", "c", "d", "nonet", "new1", "new2", "bad", "noask"} {
		all = append(all, p[n])
	}
	cands := make([][]Candidate, 6)
	for i := range cands {
		peers := make([]dsn.PeerID, len(all))
		for j, c := range all {
			peers[j] = c.Peer
		}
		for _, id := range Rank([]byte{byte(i)}, peers) {
			cands[i] = append(cands[i], p[string(id)])
		}
	}
	first, _, err1 := Select(cands, testLimits, 1<<20, t0)
	for range 5 {
		again, _, err2 := Select(cands, testLimits, 1<<20, t0)
		if !slices.EqualFunc(first, again, func(a, b Candidate) bool { return a.Peer == b.Peer }) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("Select not deterministic")
		}
	}
}
