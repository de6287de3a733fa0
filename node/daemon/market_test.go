package daemon

import (
	"strings"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/market"
)

// Placement passes over a provider this node's audits score below the
// market's threshold, and, with a price limit, one without a fitting ask.
func TestEligibility(t *testing.T) {
	keys := map[dsn.PeerID]ledger.PublicKey{"good": {1}, "flaky": {2}}
	a := newAsks(func(p dsn.PeerID) (ledger.PublicKey, error) { return keys[p], nil }, 0)
	if err := a.Eligible("flaky", 1<<20, 0); err != nil {
		t.Fatalf("a provider never audited, with no price limit: %v", err)
	}
	for range 100 {
		a.audited("good", market.AuditPass)
		a.audited("flaky", market.AuditMissed)
	}
	if err := a.Eligible("good", 1<<20, 0); err != nil {
		t.Errorf("a provider that passed 100 audits: %v", err)
	}
	if err := a.Eligible("flaky", 1<<20, 0); err == nil || !strings.Contains(err.Error(), "below") {
		t.Errorf("a provider that missed 100 audits = %v, want passed over for its score", err)
	}
	// With a price limit, a provider needs a standing ask.
	if err := a.Eligible("good", 1<<20, 5); err == nil || !strings.Contains(err.Error(), "no standing ask") {
		t.Errorf("price limit without an ask = %v, want passed over", err)
	}
}
