package market

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dsn-project/dsn/ledger"
)

var (
	allStatuses = []DealStatus{DealProposed, DealAccepted, DealActive, DealExpired, DealRenewed, DealFailed, DealRefused, DealCancelled}
	allEvents   = []DealEvent{EventAccept, EventRefuse, EventPass, EventFail, EventMiss, EventExpire, EventRenew, EventCancel}
)

// TestTransitionTable lists every allowed transition from a state with no
// failures; every other (status, event) pair must be refused and leave
// the state as it was.
func TestTransitionTable(t *testing.T) {
	type key struct {
		s DealStatus
		e DealEvent
	}
	allowed := map[key]DealState{
		{DealProposed, EventAccept}: {Status: DealAccepted},
		{DealProposed, EventRefuse}: {Status: DealRefused},
		{DealAccepted, EventPass}:   {Status: DealActive},
		{DealAccepted, EventFail}:   {Status: DealAccepted, Failures: 1},
		{DealAccepted, EventMiss}:   {Status: DealAccepted, Failures: 1},
		{DealAccepted, EventExpire}: {Status: DealExpired},
		{DealAccepted, EventCancel}: {Status: DealCancelled},
		{DealActive, EventCancel}:   {Status: DealCancelled},
		{DealActive, EventPass}:     {Status: DealActive},
		{DealActive, EventFail}:     {Status: DealActive, Failures: 1},
		{DealActive, EventMiss}:     {Status: DealActive, Failures: 1},
		{DealActive, EventExpire}:   {Status: DealExpired},
		{DealActive, EventRenew}:    {Status: DealRenewed},
	}
	for _, s := range allStatuses {
		for _, e := range allEvents {
			in := DealState{Status: s}
			got, err := Transition(in, e)
			want, ok := allowed[key{s, e}]
			switch {
			case ok && (err != nil || got != want):
				t.Errorf("Transition(%s, %s) = %v, %v; want %v", in, e, got, err, want)
			case !ok && (!errors.Is(err, ErrTransition) || got != in):
				t.Errorf("Transition(%s, %s) = %v, %v; want %v unchanged and %v", in, e, got, err, in, ErrTransition)
			}
		}
	}
	if got, err := Transition(DealState{}, EventAccept); !errors.Is(err, ErrTransition) {
		t.Errorf("Transition(zero state, accept) = %v, %v; want %v", got, err, ErrTransition)
	}
}

// TestDealLives folds event sequences through Transition.
func TestDealLives(t *testing.T) {
	tests := []struct {
		name   string
		events []DealEvent
		want   DealState
	}{
		{"expires healthy", []DealEvent{EventAccept, EventPass, EventPass, EventExpire}, DealState{Status: DealExpired}},
		{"renewed", []DealEvent{EventAccept, EventPass, EventRenew}, DealState{Status: DealRenewed}},
		{"two misses then a pass", []DealEvent{EventAccept, EventPass, EventMiss, EventFail, EventPass}, DealState{Status: DealActive}},
		{"three in a row fail the deal", []DealEvent{EventAccept, EventPass, EventMiss, EventFail, EventMiss}, DealState{Status: DealFailed, Failures: 3}},
		{"never proven", []DealEvent{EventAccept, EventMiss, EventMiss, EventMiss}, DealState{Status: DealFailed, Failures: 3}},
		{"failures not in a row", []DealEvent{EventAccept, EventFail, EventFail, EventPass, EventFail, EventFail, EventPass}, DealState{Status: DealActive}},
		{"expires mid-run", []DealEvent{EventAccept, EventPass, EventFail, EventExpire}, DealState{Status: DealExpired, Failures: 1}},
		{"cancelled after repair", []DealEvent{EventAccept, EventPass, EventMiss, EventCancel}, DealState{Status: DealCancelled, Failures: 1}},
	}
	for _, tt := range tests {
		s := DealState{Status: DealProposed}
		for i, e := range tt.events {
			var err error
			if s, err = Transition(s, e); err != nil {
				t.Fatalf("%s: event %d (%s): %v", tt.name, i, e, err)
			}
		}
		if s != tt.want {
			t.Errorf("%s: end state %v, want %v", tt.name, s, tt.want)
		}
		if _, err := Transition(s, EventPass); s.Status.Final() != (err != nil) {
			t.Errorf("%s: a pass after %v: %v", tt.name, s, err)
		}
	}
}

func TestFailedDealTakesNoEvent(t *testing.T) {
	s := DealState{Status: DealActive, Failures: MaxConsecutiveFailures - 1}
	s, err := Transition(s, EventMiss)
	if err != nil || s.Status != DealFailed {
		t.Fatalf("miss at %d failures in a row = %v, %v; want failed", MaxConsecutiveFailures-1, s, err)
	}
	for _, e := range allEvents {
		if _, err := Transition(s, e); !errors.Is(err, ErrTransition) {
			t.Errorf("Transition(failed, %s) = %v, want %v", e, err, ErrTransition)
		}
	}
}

// TestFailuresMatchLedger: the ledger lets an End forfeit the collateral
// after exactly the failures that fail a deal here.
func TestFailuresMatchLedger(t *testing.T) {
	if MaxConsecutiveFailures != ledger.MaxConsecutiveFailures {
		t.Errorf("MaxConsecutiveFailures = %d, ledger's = %d", MaxConsecutiveFailures, ledger.MaxConsecutiveFailures)
	}
}

func TestAuditEvent(t *testing.T) {
	for o, want := range map[AuditOutcome]DealEvent{AuditPass: EventPass, AuditFail: EventFail, AuditMissed: EventMiss} {
		if got, err := AuditEvent(o); got != want || err != nil {
			t.Errorf("AuditEvent(%s) = %s, %v; want %s", o, got, err, want)
		}
	}
	if _, err := AuditEvent(0); !errors.Is(err, ErrOutcome) {
		t.Errorf("AuditEvent(0) = %v, want %v", err, ErrOutcome)
	}
}

func TestDealStrings(t *testing.T) {
	for _, s := range allStatuses {
		if str := s.String(); str == fmt.Sprintf("status(%d)", uint8(s)) {
			t.Errorf("status %d has no name", s)
		}
	}
	for _, e := range allEvents {
		if str := e.String(); str == fmt.Sprintf("event(%d)", uint8(e)) {
			t.Errorf("event %d has no name", e)
		}
	}
}
