package market

import "fmt"

// DealStatus is where a deal is in its life.
type DealStatus uint8

// Deal statuses. Proposed, Accepted and Active are live; the rest are
// final. Each status is read off a node's ledger (see DealEvent): the
// deal entry accepts, the first credit activates, an End entry expires,
// fails or cancels, a new deal starting at the End renews.
const (
	// DealProposed: the client has signed the terms and sent them.
	DealProposed DealStatus = iota + 1
	// DealAccepted: the provider, holding the shard, has countersigned;
	// the deal is in the ledger. Audits start.
	DealAccepted
	// DealActive: an audit of the shard has passed, which proves the
	// shard is stored; payment for keeping it accrues.
	DealActive
	// DealExpired: the deal's term ended.
	DealExpired
	// DealRenewed: a new deal for the same shard and parties, starting
	// where this one ends, took over.
	DealRenewed
	// DealFailed: MaxConsecutiveFailures audits in a row failed or were
	// missed; the provider forfeits its collateral and the shard is
	// repaired elsewhere.
	DealFailed
	// DealRefused: the provider did not countersign.
	DealRefused
	// DealCancelled: the client ended the deal before its term, for
	// instance because repair moved the shard to another provider.
	DealCancelled
)

func (s DealStatus) String() string {
	switch s {
	case DealProposed:
		return "proposed"
	case DealAccepted:
		return "accepted"
	case DealActive:
		return "active"
	case DealExpired:
		return "expired"
	case DealRenewed:
		return "renewed"
	case DealFailed:
		return "failed"
	case DealRefused:
		return "refused"
	case DealCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Final reports whether no event moves a deal out of s.
func (s DealStatus) Final() bool { return s >= DealExpired && s <= DealCancelled }

// DealEvent is something that happens to a deal.
type DealEvent uint8

// Deal events, each with the ledger record it corresponds to, so that
// folding a ledger's entries through Transition recomputes every deal's
// state.
const (
	// EventAccept: the provider countersigned (a ledger deal entry).
	EventAccept DealEvent = iota + 1
	// EventRefuse: the provider declined or did not answer the proposal
	// (nothing in the ledger).
	EventRefuse
	// EventPass: an audit passed (a ledger credit).
	EventPass
	// EventFail: an audit got a wrong proof (a ledger penalty, outcome
	// fail). The one that fails the deal is followed by a ledger End of
	// reason failed, forfeiting the deal's collateral (see Forfeit).
	EventFail
	// EventMiss: an audit got no answer in time (a ledger penalty,
	// outcome missed), followed by an End as for EventFail.
	EventMiss
	// EventExpire: the deal's end time passed (a ledger End of reason
	// expired, At = the deal's End).
	EventExpire
	// EventRenew: a new deal for the shard and parties, starting at this
	// one's end, was accepted (a ledger deal entry).
	EventRenew
	// EventCancel: the client ended the deal early (a ledger End of
	// reason cancelled).
	EventCancel
)

func (e DealEvent) String() string {
	switch e {
	case EventAccept:
		return "accept"
	case EventRefuse:
		return "refuse"
	case EventPass:
		return "pass"
	case EventFail:
		return "fail"
	case EventMiss:
		return "miss"
	case EventExpire:
		return "expire"
	case EventRenew:
		return "renew"
	case EventCancel:
		return "cancel"
	}
	return fmt.Sprintf("event(%d)", uint8(e))
}

// AuditEvent returns the deal event for an audit outcome.
func AuditEvent(o AuditOutcome) (DealEvent, error) {
	switch o {
	case AuditPass:
		return EventPass, nil
	case AuditFail:
		return EventFail, nil
	case AuditMissed:
		return EventMiss, nil
	}
	return 0, fmt.Errorf("deal event: %w %d", ErrOutcome, uint8(o))
}

// MaxConsecutiveFailures is how many audits of a deal's shard in a row
// may fail or be missed before the deal fails: "repeated failure ends
// the deal". One miss is a reboot or a network blip, and each one is
// already penalised; three in a row (three epochs) says the shard is
// likely gone, and repair should start while the segment's other shards
// still stand. A pass resets the count. The ledger enforces the same
// number (ledger.MaxConsecutiveFailures) before an End may forfeit the
// collateral.
const MaxConsecutiveFailures = 3

// DealState is a deal's status and the length of its current run of
// failed or missed audits. A deal starts as DealState{Status: DealProposed}.
type DealState struct {
	Status DealStatus
	// Failures counts consecutive failed or missed audits, 0 after a
	// pass.
	Failures int
}

func (s DealState) String() string {
	if s.Failures == 0 {
		return s.Status.String()
	}
	return fmt.Sprintf("%s (%d failed in a row)", s.Status, s.Failures)
}

// Transition returns the state after event e, or s unchanged and an error
// wrapping ErrTransition if e is not allowed in s:
//
//	proposed --accept--> accepted        proposed --refuse--> refused
//	accepted --pass----> active          active   --pass----> active
//	accepted, active --fail, miss--> same status, one more failure in a
//	    row; failed at MaxConsecutiveFailures
//	accepted, active --expire--> expired
//	accepted, active --cancel--> cancelled
//	active   --renew---> renewed
//
// Final statuses take no event. An audit cannot arrive before the
// provider accepts (there is nothing to audit), and only an active deal
// is renewed: renewing a deal whose shard was never proven would carry
// an unproven shard forward.
func Transition(s DealState, e DealEvent) (DealState, error) {
	refuse := func() (DealState, error) {
		return s, fmt.Errorf("%w: %s on a %s deal", ErrTransition, e, s.Status)
	}
	switch s.Status {
	case DealProposed:
		switch e {
		case EventAccept:
			return DealState{Status: DealAccepted}, nil
		case EventRefuse:
			return DealState{Status: DealRefused}, nil
		}
	case DealAccepted, DealActive:
		switch e {
		case EventPass:
			return DealState{Status: DealActive}, nil
		case EventFail, EventMiss:
			n := s.Failures + 1
			if n >= MaxConsecutiveFailures {
				return DealState{Status: DealFailed, Failures: n}, nil
			}
			return DealState{Status: s.Status, Failures: n}, nil
		case EventExpire:
			return DealState{Status: DealExpired, Failures: s.Failures}, nil
		case EventCancel:
			return DealState{Status: DealCancelled, Failures: s.Failures}, nil
		case EventRenew:
			if s.Status == DealActive {
				return DealState{Status: DealRenewed, Failures: s.Failures}, nil
			}
		}
	}
	return refuse()
}
