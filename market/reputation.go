package market

import (
	"fmt"
	"math"
)

// AuditOutcome is the result of one audit of one shard. The values of
// AuditFail and AuditMissed are those of ledger.OutcomeFail and
// ledger.OutcomeMissed; the zero value is not an outcome.
type AuditOutcome uint8

// Audit outcomes.
const (
	AuditFail   AuditOutcome = 1 // a wrong, malformed or refused proof
	AuditMissed AuditOutcome = 2 // no answer before the deadline
	AuditPass   AuditOutcome = 3 // a proof that verified
)

func (o AuditOutcome) String() string {
	switch o {
	case AuditFail:
		return "fail"
	case AuditMissed:
		return "missed"
	case AuditPass:
		return "pass"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// ReputationParams are the constants of the beta reputation model.
type ReputationParams struct {
	// Lambda is the forgetting factor in (0, 1]: each audit scales the
	// weight of all earlier ones by it. The memory is about 1/(1-Lambda)
	// audits.
	Lambda float64
	// Weight is the weight of one audit, > 0.
	Weight float64
	// InitialAlpha and InitialBeta are a new provider's alpha and beta,
	// >= 0 and not both 0.
	InitialAlpha, InitialBeta float64
	// VettingAudits is how many audits a provider must pass to be
	// vetted.
	VettingAudits uint64
}

// DefaultReputation are Storj's current audit reputation defaults
// (storj/storj satellite/reputation/config.go: AuditLambda 0.999,
// AuditWeight 1, InitialAlpha 1000, InitialBeta 0, AuditCount 100; Storj
// used lambda 0.95 and a DQ cut-off of 0.6 before). Lambda 0.999 gives a
// memory of about 1000 audits, and InitialAlpha 1000 starts a provider
// at that steady state with a clean record, so its first failures weigh
// as much as a veteran's instead of sinking a near-empty score. Storj
// counts any 100 audits for vetting; here they must be passes, so a
// provider that fails cannot become vetted by being audited often.
var DefaultReputation = ReputationParams{Lambda: 0.999, Weight: 1, InitialAlpha: 1000, InitialBeta: 0, VettingAudits: 100}

// Validate reports whether p is usable, with ErrReputationParams if not.
func (p ReputationParams) Validate() error {
	switch {
	case !(p.Lambda > 0 && p.Lambda <= 1):
		return fmt.Errorf("%w: lambda %v not in (0, 1]", ErrReputationParams, p.Lambda)
	case !(p.Weight > 0) || math.IsInf(p.Weight, 0):
		return fmt.Errorf("%w: weight %v not positive", ErrReputationParams, p.Weight)
	case !(p.InitialAlpha >= 0 && p.InitialBeta >= 0) || p.InitialAlpha+p.InitialBeta == 0 ||
		math.IsInf(p.InitialAlpha+p.InitialBeta, 0):
		return fmt.Errorf("%w: initial alpha %v and beta %v", ErrReputationParams, p.InitialAlpha, p.InitialBeta)
	}
	return nil
}

// Reputation is one party's view of a provider's audit record. The zero
// value is a provider never audited.
type Reputation struct {
	// Alpha and Beta are the decayed weights of passed and of failed or
	// missed audits.
	Alpha, Beta float64
	// Audits and Passed count audits observed and passed, without decay.
	Audits, Passed uint64
	// Vetted is set once Passed reaches the vetting count, and stays.
	Vetted bool
}

// New returns the reputation of a provider never audited.
func (p ReputationParams) New() Reputation {
	return Reputation{Alpha: p.InitialAlpha, Beta: p.InitialBeta}
}

// Update returns r after one audit with outcome o:
//
//	alpha' = lambda*alpha + w*s,  beta' = lambda*beta + w*(1-s)
//
// with s = 1 for a pass and 0 for a failed or missed audit. A missed
// audit counts as a failure: an auditor cannot tell a provider that went
// silent from one that lost the data, and a cheaper silence would teach
// providers to hide losses by not answering. Update on the zero value
// starts from New. It fails only with ErrOutcome.
//
// Each product is converted to float64 before the sum, which stops the
// compiler from fusing it into a multiply-add, so the result is the same
// IEEE-754 value on every platform and anyone can recompute it.
func (p ReputationParams) Update(r Reputation, o AuditOutcome) (Reputation, error) {
	var s float64
	switch o {
	case AuditPass:
		s = 1
	case AuditFail, AuditMissed:
	default:
		return r, fmt.Errorf("reputation update: %w %d", ErrOutcome, uint8(o))
	}
	if r.Audits == 0 && r.Alpha == 0 && r.Beta == 0 {
		r.Alpha, r.Beta = p.InitialAlpha, p.InitialBeta
	}
	r.Alpha = float64(p.Lambda*r.Alpha) + float64(p.Weight*s)
	r.Beta = float64(p.Lambda*r.Beta) + float64(p.Weight*(1-s))
	r.Audits++
	if o == AuditPass {
		r.Passed++
	}
	if r.Passed >= p.VettingAudits {
		r.Vetted = true
	}
	return r, nil
}

// Score is alpha/(alpha+beta): the decayed share of audits passed, in
// [0, 1]. A provider with no record at all (alpha and beta both 0)
// scores 1, as a new provider does under the default parameters.
func (r Reputation) Score() float64 {
	if r.Alpha == 0 && r.Beta == 0 {
		return 1
	}
	sc := r.Alpha / (r.Alpha + r.Beta)
	if !(sc >= 0 && sc <= 1) { // negative, infinite or NaN weights
		return 0
	}
	return sc
}
