package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsn-project/dsn/node/daemon/api"
)

// TestTestnetChurnRepair is the churn test on real processes: 12
// providers, k=4 m=2, two files. Two providers holding shards of a file
// are killed; within a few 2-second epochs the client's daemon notices
// through its audits and rebuilds their shards elsewhere; then two more of
// the original holders are killed, and the file still comes back byte for
// byte (without repair, four of its six shards would be gone).
func TestTestnetChurnRepair(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dsn and runs thirteen processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, dir, env := upTestnet(t, ctx, 12, "--epoch", "2s")

	files, refs, manifests := storeFiles(t, ctx, bin, env, 2, 40, func(i int) int { return 3<<20 + i })
	manifest := manifests[0]
	// Which node runs each provider.
	nodeOf := map[string]string{}
	for _, p := range testnetProviders(t, ctx, dir, 12) {
		nodeOf[p.peer] = p.dir
	}
	client, err := api.Dial(ctx, filepath.Join(dir, "client"))
	if err != nil {
		t.Fatal(err)
	}
	health := func() api.File {
		fs, err := client.Files(ctx, manifest)
		if err != nil || len(fs.Files) != 1 {
			t.Fatalf("Files(%s) = %v, %v", manifest, fs, err)
		}
		return fs.Files[0]
	}
	original := health()
	if len(original.Shards) != 6 {
		t.Fatalf("file has %d shards, want one segment of 6", len(original.Shards))
	}
	kill := func(peer string) { t.Helper(); killNode(t, ctx, nodeOf[peer]) }
	dead := map[string]bool{}
	for _, sh := range original.Shards[:2] {
		kill(sh.Provider)
		dead[sh.Provider] = true
	}

	// Repair: every shard on a live provider again, each proven.
	var repaired api.File
	waitFor(t, ctx, "repair to put all six shards on live providers, each passing its audit", func() bool {
		repaired = health()
		for _, sh := range repaired.Shards {
			if dead[sh.Provider] || sh.Result != api.ResultPass {
				return false
			}
		}
		return true
	})
	moved := 0
	for i, sh := range repaired.Shards {
		if sh.Provider != original.Shards[i].Provider {
			moved++
			if sh.ID != original.Shards[i].ID {
				t.Errorf("shard %d rebuilt as %s, was %s", i, sh.ID, original.Shards[i].ID)
			}
		}
	}
	if moved != 2 {
		t.Errorf("%d shards moved by repair, want the 2 that were lost", moved)
	}

	// Two more of the original holders go.
	for _, sh := range original.Shards[2:4] {
		kill(sh.Provider)
		dead[sh.Provider] = true
	}
	// The owner repairs again (by itself next epoch, or now on request:
	// either way every shard ends up on a live provider).
	dsnCmd(t, ctx, bin, env, "repair", refs[0])
	waitFor(t, ctx, "a second repair", func() bool {
		for _, sh := range health().Shards {
			if dead[sh.Provider] || sh.Result != api.ResultPass {
				return false
			}
		}
		return true
	})
	if out := dsnCmd(t, ctx, bin, env, "status"); !regexp.MustCompile(regexp.QuoteMeta(manifest) + `\s.*\s6/6 healthy`).MatchString(out) {
		t.Errorf("dsn status after repair does not show the file 6/6 healthy:\n%s", out)
	}
	for i, ref := range refs {
		out := filepath.Join(t.TempDir(), "out")
		dsnCmd(t, ctx, bin, env, "retrieve", ref, "-o", out)
		got, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(got, files[i]) {
			t.Fatalf("file %d after losing 4 of its original holders: %d bytes, %v; want the stored bytes", i, len(got), err)
		}
	}
}

// TestTestnetRandomChurn kills and restarts providers at random under
// continuous audits (2-second epochs): at most two are down at once, and a
// provider is killed only while it holds shards. Every file must still come
// back byte for byte at the end, repair must keep every file whole on live
// providers after each kill, and the client's ledger must show a penalty
// for every provider that vanished. The seed is logged; DSN_CHURN_SEED
// replays a run.
func TestTestnetRandomChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dsn and runs thirteen processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DSN_CHURN_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("DSN_CHURN_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (DSN_CHURN_SEED=%d replays this run)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	const providers, rounds = 12, 10
	const epoch = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Deals of 20 seconds: each is renewed, or ended, several times over
	// the run.
	bin, dir, env := upTestnet(t, ctx, providers, "--epoch", epoch.String(), "--deal-duration", "20s")

	files, refs, manifests := storeFiles(t, ctx, bin, env, 3, 60, func(i int) int { return 1<<20 + 7*i })

	// Each provider's repo and ledger key, by peer ID.
	nodeOf, keyOf := map[string]string{}, map[string]string{}
	var peers []string
	for _, p := range testnetProviders(t, ctx, dir, providers) {
		nodeOf[p.peer], keyOf[p.peer] = p.dir, p.ledgerKey
		peers = append(peers, p.peer)
	}
	client, err := api.Dial(ctx, filepath.Join(dir, "client"))
	if err != nil {
		t.Fatal(err)
	}
	// holders returns the providers the client's records name for every
	// shard, and whether every file is whole: each shard on a live
	// provider whose latest audit passed.
	down := map[string]bool{}
	holders := func() (map[string]bool, bool) {
		held, whole := map[string]bool{}, true
		for _, m := range manifests {
			fs, err := client.Files(ctx, m)
			if err != nil || len(fs.Files) != 1 {
				t.Fatalf("Files(%s) = %v, %v", m, fs, err)
			}
			for _, sh := range fs.Files[0].Shards {
				held[sh.Provider] = true
				whole = whole && !down[sh.Provider] && sh.Result == api.ResultPass
			}
		}
		return held, whole
	}
	waitFor(t, ctx, "every shard to pass its first audit", func() bool { _, ok := holders(); return ok })

	vanished := map[string]bool{}
	for r := range rounds {
		held, _ := holders()
		var victims []string
		for _, p := range peers {
			if held[p] && !down[p] {
				victims = append(victims, p)
			}
		}
		var back []string
		for _, p := range peers {
			if down[p] {
				back = append(back, p)
			}
		}
		slices.Sort(back)
		if len(back) < 2 && (len(back) == 0 || rng.IntN(3) > 0) {
			p := victims[rng.IntN(len(victims))]
			rdir := nodeOf[p]
			killNode(t, ctx, rdir)
			down[p], vanished[p] = true, true
			t.Logf("round %d: killed %s (%s)", r, filepath.Base(rdir), p)
			// Repair must make every file whole again on live providers
			// before anything else happens.
			waitFor(t, ctx, "repair after killing "+filepath.Base(rdir), func() bool { _, ok := holders(); return ok })
		} else {
			p := back[rng.IntN(len(back))]
			rdir := nodeOf[p]
			logPath := filepath.Join(rdir, "daemon.log")
			logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "node", "run", "--repo", rdir, "--epoch", epoch.String())
			cmd.Stdout, cmd.Stderr = logf, logf
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			logf.Close()
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			back := func() bool {
				c, err := api.Dial(ctx, rdir)
				if err != nil {
					return false
				}
				s, err := c.Status(ctx)
				return err == nil && s.RoutingTable > 0
			}
			deadline := time.Now().Add(time.Minute)
			for !back() {
				var err error
				select {
				case err = <-exited:
				case <-time.After(50 * time.Millisecond):
					if time.Now().Before(deadline) {
						continue
					}
					err = errors.New("not back within a minute")
				}
				b, _ := os.ReadFile(logPath)
				t.Fatalf("restarting %s: %v; its log ends:\n%s", filepath.Base(rdir), err, b[max(0, len(b)-4000):])
			}
			delete(down, p)
			t.Logf("round %d: restarted %s", r, filepath.Base(rdir))
		}
	}

	for i, ref := range refs {
		out := filepath.Join(t.TempDir(), "out")
		dsnCmd(t, ctx, bin, env, "retrieve", ref, "-o", out)
		got, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(got, files[i]) {
			t.Fatalf("file %d after the churn: %d bytes, %v; want the stored bytes", i, len(got), err)
		}
	}
	// Deals were renewed as they ran out, and every shard held now is
	// under a deal that has not ended.
	var deals api.Deals
	if err := jsonUnmarshal(dsnCmd(t, ctx, bin, env, "deals", "--json"), &deals); err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{}
	live := map[string]bool{}
	for _, d := range deals.Deals {
		statuses[d.Status]++
		if d.Status == "active" || d.Status == "accepted" || d.Status == "pending" {
			live[d.Shard+" "+d.Provider] = true
		}
	}
	t.Logf("deals by status: %v", statuses)
	if statuses["renewed"] == 0 {
		t.Errorf("no deal was renewed over the run: %v", statuses)
	}
	// Every kill moved shards, whose old deals end as cancelled.
	if statuses["cancelled"] == 0 {
		t.Errorf("no deal was cancelled though repair moved shards: %v", statuses)
	}
	for _, m := range manifests {
		fs, err := client.Files(ctx, m)
		if err != nil || len(fs.Files) != 1 {
			t.Fatalf("Files(%s) = %v, %v", m, fs, err)
		}
		for _, sh := range fs.Files[0].Shards {
			if !live[sh.ID+" "+sh.Provider] {
				t.Errorf("shard %s on %s is under no live deal", sh.ID, sh.Provider)
			}
		}
	}

	b, err := client.LedgerBalance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	penalised := map[string]uint64{}
	for _, a := range b.Accounts {
		penalised[a.Party] = a.Penalties
	}
	for p := range vanished {
		if penalised[keyOf[p]] == 0 {
			t.Errorf("%s vanished holding shards, and the client's ledger shows no penalty for it", filepath.Base(nodeOf[p]))
		}
	}
	if out := dsnCmd(t, ctx, bin, env, "ledger", "verify"); !strings.Contains(out, "ledger OK") {
		t.Errorf("dsn ledger verify of the client: %s", out)
	}
}

// storeFiles stores n random files, the i-th of size(i) bytes, through the
// client of env, and returns their bytes, references and manifest CIDs.
func storeFiles(t *testing.T, ctx context.Context, bin string, env []string, n int, seed byte, size func(int) int) (files [][]byte, refs, manifests []string) {
	t.Helper()
	for i := range n {
		b := make([]byte, size(i))
		rand.NewChaCha8([32]byte{seed + byte(i)}).Read(b)
		in := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(in, b, 0o600); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(dsnCmd(t, ctx, bin, env, "store", in)), "\n")
		ref := lines[len(lines)-1]
		files, refs = append(files, b), append(refs, ref)
		manifests = append(manifests, strings.TrimPrefix(strings.SplitN(ref, "#", 2)[0], "dsn:"))
	}
	return files, refs, manifests
}

// testnetProvider is one provider of a testnet, as its API describes it.
type testnetProvider struct {
	peer, dir, ledgerKey string
}

// testnetProviders asks each of the n providers of the testnet in dir for
// its peer ID and ledger key.
func testnetProviders(t *testing.T, ctx context.Context, dir string, n int) []testnetProvider {
	t.Helper()
	var out []testnetProvider
	for i := 1; i <= n; i++ {
		rdir := filepath.Join(dir, "node-"+strconv.Itoa(i))
		c, err := api.Dial(ctx, rdir)
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.LedgerBalance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, testnetProvider{peer: st.PeerID, dir: rdir, ledgerKey: b.Self})
	}
	return out
}
