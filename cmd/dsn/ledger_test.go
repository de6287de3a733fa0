package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/daemon"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// TestTestnetLedger runs what the ledger is for, on a testnet of real
// processes with 2-second epochs: a store makes deals, a retrieval earns
// its providers receipts, the client's audits every epoch earn them
// credits; every provider's own ledger then shows what the client's
// ledger says it earned, every ledger verifies, and a ledger altered
// behind its node's back fails verification at the altered index.
func TestTestnetLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dsn and runs seven processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, dir, env := upTestnet(t, ctx, 6, "--epoch", "2s")

	data := make([]byte, 9<<20)
	rand.NewChaCha8([32]byte{5}).Read(data)
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(dsnCmd(t, ctx, bin, env, "store", in)), "\n")
	ref := lines[len(lines)-1]
	dsnCmd(t, ctx, bin, env, "retrieve", ref, "-o", filepath.Join(t.TempDir(), "out"))

	providers := make([]*api.Client, 6)
	for i := range providers {
		c, err := api.Dial(ctx, filepath.Join(dir, "node-"+strconv.Itoa(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		providers[i] = c
	}
	self := func(b *api.Balance) api.Account {
		for _, a := range b.Accounts {
			if a.Party == b.Self {
				return a
			}
		}
		return api.Account{Party: b.Self}
	}
	// Two settled epochs: every provider that holds shards has earned
	// for space at least twice.
	waitFor(t, ctx, "two epochs of credits on every provider holding shards", func() bool {
		for _, c := range providers {
			st, err := c.Status(ctx)
			if err != nil {
				return false
			}
			b, err := c.LedgerBalance(ctx)
			if err != nil {
				return false
			}
			if st.Shards > 0 && self(b).SpaceEarned < 2 {
				return false
			}
		}
		return true
	})
	// Checkpoints travel by gossip: the client holds every provider's,
	// each checked, and distrusts none.
	cdir := filepath.Join(dir, "client")
	cc, err := api.Dial(ctx, cdir)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the client to witness every provider's checkpoints", func() bool {
		st, err := cc.Status(ctx)
		return err == nil && st.Witnessed >= 6 && len(st.Distrusted) == 0
	})
	// The client lists a deal per shard, each active, on its own terms.
	var deals api.Deals
	if err := jsonUnmarshal(dsnCmd(t, ctx, bin, env, "deals", "--json"), &deals); err != nil {
		t.Fatal(err)
	}
	if len(deals.Deals) != 6 {
		t.Errorf("dsn deals lists %d deals, want one per shard (6)", len(deals.Deals))
	}
	for _, d := range deals.Deals {
		if d.Status != "active" || d.PricePerGiBMonth == 0 || !strings.HasPrefix(d.Provider, "12D3KooW") {
			t.Errorf("deal %+v: want an active deal with prices and a provider peer ID", d)
		}
	}
	// Providers' asks reach the client by gossip; a store whose price
	// limit is below every ask finds no provider, and says so.
	waitFor(t, ctx, "the client to hold every provider's ask", func() bool {
		as, err := cc.MarketAsks(ctx)
		return err == nil && len(as.Asks) == 6
	})
	var as api.Asks
	if err := jsonUnmarshal(dsnCmd(t, ctx, bin, env, "market", "asks", "--json"), &as); err != nil || len(as.Asks) != 6 || as.Asks[0].PricePerGiBMonth != 1_000_000_000 {
		t.Fatalf("dsn market asks = %+v, %v; want 6 asks at the default price", as, err)
	}
	cheap := exec.CommandContext(ctx, bin, "store", "--max-price", "999999999", in)
	cheap.Env = append(os.Environ(), env...)
	if out, err := cheap.CombinedOutput(); err == nil || !strings.Contains(string(out), "not enough providers") {
		t.Errorf("dsn store --max-price below every ask = %v:\n%s\nwant a refusal for lack of providers", err, out)
	}
	// Stop the client: no more audits, so that both sides' ledgers can be
	// compared as they stand.
	stopNode(t, ctx, filepath.Join(dir, "client"))
	out := dsnCmd(t, ctx, bin, env, "ledger", "balance", "--json")
	var clientView struct{ Accounts []api.Account }
	if err := jsonUnmarshal(out, &clientView); err != nil {
		t.Fatal(err)
	}
	owed := map[string]api.Account{}
	for _, a := range clientView.Accounts {
		owed[a.Party] = a
	}
	var served uint64
	for i, c := range providers {
		b, err := c.LedgerBalance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mine := self(b)
		served += mine.BytesServed
		if theirs := owed[b.Self]; mine.SpaceEarned != theirs.SpaceEarned || mine.Penalties != theirs.Penalties ||
			mine.BytesServed != theirs.BytesServed || mine.BandwidthEarned != theirs.BandwidthEarned {
			t.Errorf("node-%d: its ledger says space %d, penalties %d, served %d for %d; the client's says %d, %d, %d, %d",
				i+1, mine.SpaceEarned, mine.Penalties, mine.BytesServed, mine.BandwidthEarned,
				theirs.SpaceEarned, theirs.Penalties, theirs.BytesServed, theirs.BandwidthEarned)
		}
		if mine.BytesServed > 0 && mine.BandwidthEarned == 0 {
			t.Errorf("node-%d served %d bytes and earned nothing for them", i+1, mine.BytesServed)
		}
		v, err := c.LedgerVerify(ctx)
		if err != nil || v.Entries != b.Entries {
			t.Errorf("node-%d: ledger verify = %+v, %v; want all %d entries", i+1, v, err, b.Entries)
		}
	}
	// The retrieval fetched at least the 4 data-or-parity shards of each
	// of its 3 segments of 3 MiB: each receipted.
	if served < 9<<20 || served > 9<<20*6/4+6*4096 {
		t.Errorf("receipts for %d bytes, want at least the %d stored bytes and at most their expansion", served, 9<<20)
	}
	if out := dsnCmd(t, ctx, bin, env, "ledger", "verify"); !strings.Contains(out, "ledger OK") {
		t.Errorf("dsn ledger verify of the client: %s", out)
	}

	// dsn audit, here through a temporary node since the client daemon
	// is stopped: every shard passes; then a shard corrupted on its
	// provider's disk fails, and the exit status says so.
	var auditJSON api.AuditResult
	if err := jsonUnmarshal(dsnCmd(t, ctx, bin, env, "audit", "--json", ref), &auditJSON); err != nil || len(auditJSON.Shards) != 6 {
		t.Fatalf("dsn audit --json: %v, %d shards; want the 6 of one segment", err, len(auditJSON.Shards))
	}
	for _, a := range auditJSON.Shards {
		if a.Result != api.ResultPass || a.Scheme != "compact" {
			t.Errorf("dsn audit of an intact file: shard %d/%d %s %s (%s), want a compact pass", a.Segment, a.Shard, a.Scheme, a.Result, a.Reason)
		}
	}
	victim := auditJSON.Shards[4]
	paths, _ := filepath.Glob(filepath.Join(dir, "node-*", daemon.ShardsDir, "shards", victim.ID[:2], victim.ID))
	if len(paths) != 1 {
		t.Fatalf("shard %s found in %d provider stores, want 1", victim.ID, len(paths))
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i += 512 {
		b[i] ^= 0x80
	}
	if err := os.WriteFile(paths[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "audit", ref)
	cmd.Env = append(os.Environ(), env...)
	auditOut, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitAuditFailed {
		t.Fatalf("dsn audit with a corrupted shard = %v, want exit status %d:\n%s", err, exitAuditFailed, auditOut)
	}
	failed := regexp.MustCompile(`(?m)^0\s+(\d)\s+\S+\s+compact\s+fail\s`).FindAllStringSubmatch(string(auditOut), -1)
	if len(failed) != 1 || failed[0][1] != "4" || strings.Count(string(auditOut), " pass ") != 5 {
		t.Errorf("dsn audit with shard 0/4 corrupted: want exactly that shard failed:\n%s", auditOut)
	}

	// Alter entry 1 of node-1's ledger behind its back: verify names it.
	rdir := filepath.Join(dir, "node-1")
	stopNode(t, ctx, rdir)
	db, err := pebble.Open(filepath.Join(rdir, daemon.LedgerDir), &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	key := binary.BigEndian.AppendUint64([]byte{'e'}, 1)
	v, closer, err := db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	altered := bytes.Clone(v)
	closer.Close()
	altered[len(altered)-1] ^= 1
	if err := db.Set(key, altered, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cmd = exec.CommandContext(ctx, bin, "ledger", "verify", "--repo", rdir)
	outb, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitLedgerInvalid || !strings.Contains(string(outb), "index 1: entry altered") {
		t.Errorf("dsn ledger verify of an altered ledger = %v:\n%s\nwant exit %d naming index 1 as altered", err, outb, exitLedgerInvalid)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// TestLedgerShowEnd: dsn ledger show renders an End on one line, with its
// reason and forfeit and without its signature.
func TestLedgerShowEnd(t *testing.T) {
	e := &ledger.End{Shard: dsn.SumShard([]byte("s")), Client: ledger.PublicKey{1}, Provider: ledger.PublicKey{2},
		Signer: ledger.PublicKey{1}, Start: 100, At: 400, Reason: ledger.EndFailed, Forfeit: 2500, SignerSig: ledger.Signature{9}}
	fields, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got := summarize(fields)
	for _, want := range []string{"reason=failed", "forfeit=2500", "at=400", "start=100", "client=010000000000", "provider=020000000000"} {
		if !strings.Contains(got, want) {
			t.Errorf("summarize(end) = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "_sig") {
		t.Errorf("summarize(end) = %q shows the signature", got)
	}
}
