package market

import (
	"errors"
	"math"
	"testing"
)

func update(t *testing.T, p ReputationParams, r Reputation, outcomes ...AuditOutcome) Reputation {
	t.Helper()
	for _, o := range outcomes {
		var err error
		if r, err = p.Update(r, o); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func repeat(o AuditOutcome, n int) []AuditOutcome {
	out := make([]AuditOutcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestReputationUpdate(t *testing.T) {
	p := DefaultReputation
	tests := []struct {
		name        string
		outcomes    []AuditOutcome
		alpha, beta float64
		audits      uint64
		passed      uint64
	}{
		{"new", nil, 1000, 0, 0, 0},
		{"one pass", []AuditOutcome{AuditPass}, 1000, 0, 1, 1},
		{"one fail", []AuditOutcome{AuditFail}, 999, 1, 1, 0},
		{"one miss counts as a fail", []AuditOutcome{AuditMissed}, 999, 1, 1, 0},
		{"fail then pass", []AuditOutcome{AuditFail, AuditPass}, 0.999*999 + 1, 0.999, 2, 1},
		{"two fails", []AuditOutcome{AuditFail, AuditFail}, 0.999 * 999, 0.999 + 1, 2, 0},
	}
	for _, tt := range tests {
		r := update(t, p, p.New(), tt.outcomes...)
		if !near(r.Alpha, tt.alpha) || !near(r.Beta, tt.beta) || r.Audits != tt.audits || r.Passed != tt.passed {
			t.Errorf("%s: Update = %+v, want alpha %v beta %v audits %d passed %d", tt.name, r, tt.alpha, tt.beta, tt.audits, tt.passed)
		}
		if z := update(t, p, Reputation{}, tt.outcomes...); (z != r && len(tt.outcomes) > 0) || z.Score() != r.Score() {
			t.Errorf("%s: from the zero value %+v, from New %+v", tt.name, z, r)
		}
	}
	if _, err := p.Update(p.New(), 0); !errors.Is(err, ErrOutcome) {
		t.Errorf("Update(outcome 0) = %v, want %v", err, ErrOutcome)
	}
}

// TestReputationClosedForm compares n updates one at a time with the
// closed form of the geometric series they sum to:
// alpha_n = lambda^n alpha_0 + w (1-lambda^n)/(1-lambda) for n passes.
func TestReputationClosedForm(t *testing.T) {
	for _, p := range []ReputationParams{DefaultReputation, {Lambda: 0.95, Weight: 1, InitialAlpha: 1, VettingAudits: 100}} {
		for _, n := range []int{1, 10, 100, 1000, 5000} {
			start := Reputation{Alpha: 300, Beta: 700}
			ln := math.Pow(p.Lambda, float64(n))
			geo := p.Weight * (1 - ln) / (1 - p.Lambda)
			r := update(t, p, start, repeat(AuditPass, n)...)
			if !near(r.Alpha, ln*start.Alpha+geo) || !near(r.Beta, ln*start.Beta) {
				t.Errorf("lambda %v: %d passes = (%v, %v), want (%v, %v)", p.Lambda, n, r.Alpha, r.Beta, ln*start.Alpha+geo, ln*start.Beta)
			}
			r = update(t, p, start, repeat(AuditFail, n)...)
			if !near(r.Beta, ln*start.Beta+geo) || !near(r.Alpha, ln*start.Alpha) {
				t.Errorf("lambda %v: %d failures = (%v, %v), want (%v, %v)", p.Lambda, n, r.Alpha, r.Beta, ln*start.Alpha, ln*start.Beta+geo)
			}
		}
	}
}

// TestReputationDisqualification: from a clean record, score falls as
// 0.999^n, so the 41st failure in a row is the first below 0.96.
func TestReputationDisqualification(t *testing.T) {
	p := DefaultReputation
	r := update(t, p, p.New(), repeat(AuditPass, 500)...)
	for i := 1; i <= 41; i++ {
		r = update(t, p, r, AuditFail)
		if below := r.Score() < DefaultMinScore; below != (i == 41) {
			t.Fatalf("after %d failures score %.5f; below %v at the wrong count", i, r.Score(), DefaultMinScore)
		}
	}
	if r.Score() >= DefaultMinScore {
		t.Fatalf("after 41 failures score %.5f, want below %v", r.Score(), DefaultMinScore)
	}
}

// TestReputationLongRun: over many epochs the score tends to the share of
// audits passed, so a provider failing 1 in 20 sinks below the cut-off and
// one failing 1 in 50 stays above it.
func TestReputationLongRun(t *testing.T) {
	p := DefaultReputation
	tests := []struct {
		every int // one failure in every
		above bool
	}{{20, false}, {30, true}, {50, true}, {10, false}}
	for _, tt := range tests {
		r := p.New()
		for i := 1; i <= 20000; i++ {
			o := AuditPass
			if i%tt.every == 0 {
				o = AuditMissed
			}
			r = update(t, p, r, o)
		}
		want := 1 - 1/float64(tt.every)
		if math.Abs(r.Score()-want) > 0.01 {
			t.Errorf("1 failure in %d: score %.4f after 20000 audits, want about %.4f", tt.every, r.Score(), want)
		}
		if (r.Score() >= DefaultMinScore) != tt.above {
			t.Errorf("1 failure in %d: score %.4f, above %v = %v, want %v", tt.every, r.Score(), DefaultMinScore, !tt.above, tt.above)
		}
	}
}

// TestReputationRecovery: a provider that failed 100 audits in a row
// comes back above the cut-off after the number of passes the closed form
// predicts (beta decays as 0.999^n while alpha+beta stays 1000).
func TestReputationRecovery(t *testing.T) {
	p := DefaultReputation
	r := update(t, p, p.New(), repeat(AuditFail, 100)...)
	if r.Score() >= DefaultMinScore {
		t.Fatalf("after 100 failures score %.4f, want below %v", r.Score(), DefaultMinScore)
	}
	beta0 := r.Beta
	predict := int(math.Ceil(math.Log((1-DefaultMinScore)*1000/beta0) / math.Log(p.Lambda)))
	n := 0
	for r.Score() < DefaultMinScore {
		r = update(t, p, r, AuditPass)
		if n++; n > 10000 {
			t.Fatalf("no recovery after 10000 passes: score %.4f", r.Score())
		}
	}
	if n < predict-1 || n > predict+1 {
		t.Fatalf("recovered after %d passes, closed form says %d", n, predict)
	}
	if n < 800 || n > 900 {
		t.Fatalf("recovered after %d passes; the docs say about 870", n)
	}
}

func TestReputationVetting(t *testing.T) {
	p := DefaultReputation
	r := update(t, p, p.New(), repeat(AuditFail, 50)...)
	r = update(t, p, r, repeat(AuditPass, 99)...)
	if r.Vetted {
		t.Fatalf("vetted after %d passes of %d audits, want 100 passes", r.Passed, r.Audits)
	}
	r = update(t, p, r, AuditPass)
	if !r.Vetted {
		t.Fatalf("not vetted after %d passes", r.Passed)
	}
	r = update(t, p, r, repeat(AuditMissed, 10)...)
	if !r.Vetted {
		t.Fatalf("vetting lost after failures")
	}
}

func TestReputationParamsValidate(t *testing.T) {
	tests := []struct {
		p  ReputationParams
		ok bool
	}{
		{DefaultReputation, true},
		{ReputationParams{Lambda: 1, Weight: 1, InitialAlpha: 1}, true},
		{ReputationParams{Lambda: 0, Weight: 1, InitialAlpha: 1}, false},
		{ReputationParams{Lambda: 1.01, Weight: 1, InitialAlpha: 1}, false},
		{ReputationParams{Lambda: math.NaN(), Weight: 1, InitialAlpha: 1}, false},
		{ReputationParams{Lambda: 0.9, Weight: 0, InitialAlpha: 1}, false},
		{ReputationParams{Lambda: 0.9, Weight: math.Inf(1), InitialAlpha: 1}, false},
		{ReputationParams{Lambda: 0.9, Weight: 1}, false},
		{ReputationParams{Lambda: 0.9, Weight: 1, InitialAlpha: -1, InitialBeta: 2}, false},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrReputationParams)) {
			t.Errorf("Validate(%+v) = %v, want ok %v", tt.p, err, tt.ok)
		}
	}
}

func TestReputationScore(t *testing.T) {
	tests := []struct {
		r    Reputation
		want float64
	}{
		{Reputation{}, 1},
		{Reputation{Alpha: 3, Beta: 1}, 0.75},
		{Reputation{Alpha: 0, Beta: 5}, 0},
		{Reputation{Alpha: -1, Beta: 0.5}, 0},
		{Reputation{Alpha: math.NaN()}, 0},
		{Reputation{Alpha: math.Inf(1), Beta: 1}, 0},
	}
	for _, tt := range tests {
		if got := tt.r.Score(); got != tt.want {
			t.Errorf("Score(%+v) = %v, want %v", tt.r, got, tt.want)
		}
	}
}
