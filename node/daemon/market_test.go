package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
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
	a := newAsks(func(p dsn.PeerID) (ledger.PublicKey, error) { return keys[p], nil }, 0, "")
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

// A node's view of the providers it audits survives a restart: a provider
// that missed its audits is still passed over, and one that passed enough
// is still vetted. A damaged file is set aside, not fatal.
func TestReputationsSurviveRestart(t *testing.T) {
	keyOf := func(dsn.PeerID) (ledger.PublicKey, error) { return ledger.PublicKey{}, nil }
	path := filepath.Join(t.TempDir(), ReputationFile)
	a := newAsks(keyOf, 0, path)
	for range 120 {
		a.audited("good", market.AuditPass)
		a.audited("flaky", market.AuditMissed)
	}
	if err := a.saveReputations(); err != nil {
		t.Fatalf("saveReputations = %v", err)
	}
	b := newAsks(keyOf, 0, path)
	if err := b.loadReputations(slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("loadReputations = %v", err)
	}
	if err := b.Eligible("flaky", 1<<20, 0); err == nil {
		t.Errorf("after a restart, a provider that missed 120 audits is eligible again")
	}
	if !b.Vetted("good") || b.Vetted("flaky") {
		t.Errorf("after a restart, Vetted(good) = %v, Vetted(flaky) = %v; want true, false", b.Vetted("good"), b.Vetted("flaky"))
	}

	if err := os.WriteFile(path, []byte("not a table"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newAsks(keyOf, 0, path)
	if err := c.loadReputations(slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("loadReputations(damaged file) = %v, want it set aside", err)
	}
	if _, err := os.Stat(path + ".bad"); err != nil {
		t.Errorf("damaged reputation file not kept aside: %v", err)
	}
	if err := c.Eligible("flaky", 1<<20, 0); err != nil {
		t.Errorf("with no record, Eligible(flaky) = %v", err)
	}
}
