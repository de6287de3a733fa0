package testnet

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dsn-project/dsn/node/daemon"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// The test binary doubles as the dsn binary Up runs: started with
// daemonEnv set, it acts as `dsn node run`. modeEnv, a list of
// name=mode, makes the node of a repo named name misbehave instead:
//
//	exit      fail at once, as a daemon with a bad config does
//	hang      never take the repo's lock, end on SIGTERM: a daemon
//	          caught in its first moments
//	stubborn  take the lock and ignore SIGTERM
const (
	daemonEnv = "DSN_TESTNET_TEST_DAEMON"
	modeEnv   = "DSN_TESTNET_TEST_MODE"
)

func TestMain(m *testing.M) {
	if os.Getenv(daemonEnv) == "1" {
		os.Exit(runDaemon(os.Args[1:]))
	}
	os.Setenv(daemonEnv, "1") // for the children
	os.Exit(m.Run())
}

func runDaemon(args []string) int {
	if len(args) < 2 || args[0] != "node" || args[1] != "run" {
		fmt.Fprintf(os.Stderr, "want node run, got %q\n", args)
		return 2
	}
	fs := flag.NewFlagSet("node run", flag.ContinueOnError)
	repo := fs.String("repo", "", "")
	level := fs.String("log-level", "info", "")
	epoch := fs.Duration("epoch", 0, "")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	modes := map[string]string{}
	for _, kv := range strings.Split(os.Getenv(modeEnv), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			modes[k] = v
		}
	}
	switch modes[filepath.Base(*repo)] {
	case "exit":
		fmt.Fprintln(os.Stderr, "exiting as told")
		return 1
	case "stubborn":
		r, err := daemon.OpenRepo(*repo)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer r.Close()
		signal.Ignore(syscall.SIGTERM)
		for {
			time.Sleep(time.Hour) // until SIGKILL
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if modes[filepath.Base(*repo)] == "hang" {
		<-ctx.Done()
		return 0
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return 2
	}
	var ov daemon.Overrides
	if *epoch != 0 {
		ov.Epoch = epoch
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	if err := daemon.Run(ctx, *repo, ov, daemon.RunOptions{Logger: log}); err != nil {
		fmt.Fprintln(os.Stderr, "dsn:", err)
		return 1
	}
	return 0
}

// logBuf collects Up's log and can call a function on each write.
type logBuf struct {
	mu      sync.Mutex
	b       bytes.Buffer
	onWrite func(string)
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	f := l.onWrite
	l.mu.Unlock()
	if f != nil {
		f(string(p))
	}
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var startedRE = regexp.MustCompile(`started (\S+) \(pid (\d+)\)`)

// startedPIDs returns the pids Up said it started.
func (l *logBuf) startedPIDs() map[string]int {
	pids := map[string]int{}
	for _, m := range startedRE.FindAllStringSubmatch(l.String(), -1) {
		pid, _ := strconv.Atoi(m[2])
		pids[m[1]] = pid
	}
	return pids
}

// newTestnet returns options for a small testnet in a temporary directory,
// and makes sure that nothing it starts outlives the test.
func newTestnet(t *testing.T, providers int) (Options, *logBuf) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tn")
	log := &logBuf{}
	t.Cleanup(func() {
		Down(context.Background(), dir, 5*time.Second)
		// Children that never took their lock are out of Down's reach.
		for name, pid := range log.startedPIDs() {
			if syscall.Kill(pid, 0) == nil {
				t.Logf("killing %s (pid %d), left running", name, pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return Options{
		Providers: providers,
		Dir:       dir,
		Binary:    os.Args[0],
		Capacity:  64 << 20,
		Timeout:   20 * time.Second,
		Log:       log,
		LogLevel:  "warn",
	}, log
}

// mustUp brings the testnet up, failing the test with Up's log if it fails.
func mustUp(t *testing.T, ctx context.Context, o Options, log *logBuf) []Node {
	t.Helper()
	nodes, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("Up(%d providers) = %v\nlog:\n%s", o.Providers, err, log)
	}
	return nodes
}

func mustDown(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	if _, err := Down(ctx, dir, 5*time.Second); err != nil {
		t.Fatalf("Down = %v", err)
	}
}

// waitUnlocked polls until no process holds the lock of the repo in rdir.
func waitUnlocked(t *testing.T, ctx context.Context, rdir string) {
	t.Helper()
	for {
		if locked, err := daemon.Locked(rdir); err == nil && !locked {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s still locked: %v", rdir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// assertGone checks that no process Up started is still running: Up
// stops (and, as their parent, reaps) what it started before it fails.
func assertGone(t *testing.T, log *logBuf) {
	t.Helper()
	pids := log.startedPIDs()
	if len(pids) == 0 {
		t.Fatalf("Up started no process; log:\n%s", log)
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) is still running after Up failed (kill 0: %v)", name, pid, err)
		}
	}
}

// A daemon killed with SIGKILL leaves its api and api.token files behind;
// the next Up must wait for the new daemon's, not poll the dead address.
func TestUpAfterKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o, log := newTestnet(t, 2)
	nodes := mustUp(t, ctx, o, log)
	killed := nodes[1]
	if err := syscall.Kill(killed.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUnlocked(t, ctx, killed.Dir)
	if stale, err := api.ReadAddr(killed.Dir); err != nil || stale != killed.API {
		t.Fatalf("api file of the killed %s = %q, %v; want the stale %q left behind", killed.Name, stale, err, killed.API)
	}
	mustDown(t, ctx, o.Dir)

	nodes = mustUp(t, ctx, o, log)
	for _, n := range nodes {
		addr, err := api.ReadAddr(n.Dir)
		if err != nil || addr != n.API || n.Status == nil {
			t.Errorf("after the restart %s has API %q and status %v; its api file says %q (%v)", n.Name, n.API, n.Status, addr, err)
		}
	}
}

// Up on a testnet that was smaller before: the new provider joins the old
// ones, and the reused client learns of it.
func TestUpGrows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o, log := newTestnet(t, 2)
	mustUp(t, ctx, o, log)
	mustDown(t, ctx, o.Dir)

	o.Providers = 3
	nodes := mustUp(t, ctx, o, log)
	if got := len(nodes[len(nodes)-1].Status.Peers); got < 3 {
		t.Errorf("client is connected to %d peers, want the 3 providers", got)
	}
	bootstrap := func(name string) []string {
		cfg, err := daemon.LoadConfig(filepath.Join(o.Dir, name, daemon.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Bootstrap
	}
	for _, n := range nodes {
		var want []string
		for _, p := range nodes {
			if p.Name != n.Name && p.Name != ClientName {
				want = append(want, p.Status.PeerID)
			}
		}
		boot := bootstrap(n.Name)
		for _, id := range want {
			if !slices.ContainsFunc(boot, func(a string) bool { return strings.HasSuffix(a, "/p2p/"+id) }) {
				t.Errorf("bootstrap list of %s = %q, lacks provider %s", n.Name, boot, id)
			}
		}
	}
}

// A node that exits at once makes Up fail; the others, though they do not
// hold their repo's lock yet, must not be left running.
func TestUpFailureStopsStarted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Setenv(modeEnv, "node-1=exit,node-2=hang")
	o, log := newTestnet(t, 2)
	_, err := Up(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "node-1: exited") {
		t.Fatalf("Up with node-1 failing = %v, want node-1: exited", err)
	}
	assertGone(t, log)
}

// Up interrupted (Ctrl-C cancels its context) just after it started a
// node stops that node.
func TestUpInterruptStopsStarted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Setenv(modeEnv, "node-1=hang,node-2=hang")
	o, log := newTestnet(t, 2)
	upCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	log.onWrite = func(s string) {
		if strings.HasPrefix(s, "started node-1 ") {
			interrupt()
		}
	}
	_, err := Up(upCtx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Up = %v, want context.Canceled", err)
	}
	assertGone(t, log)
}

func TestTimeoutMustBePositive(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := Down(context.Background(), dir, d); err == nil || !strings.Contains(err.Error(), "positive") {
			t.Errorf("Down(timeout %v) = %v, want an error asking for a positive timeout", d, err)
		}
	}
	// Should Up take the timeout, it must not leave the testnet running.
	t.Cleanup(func() { Down(context.Background(), dir, 5*time.Second) })
	o := Options{Providers: 1, Dir: dir, Binary: os.Args[0], Timeout: -time.Second}
	if _, err := Up(context.Background(), o); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("Up(Timeout -1s) = %v, want an error asking for a positive timeout", err)
	}
}

// A daemon that ignores SIGTERM is killed; Down waits for the kernel to
// drop its lock rather than report it still there.
func TestDownKillsStubborn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	rdir := filepath.Join(dir, "node-1")
	if _, err := daemon.Init(rdir, daemon.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "node", "run", "--repo", rdir)
	cmd.Env = append(os.Environ(), modeEnv+"=node-1=stubborn")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-waited })
	for {
		if locked, _ := daemon.Locked(rdir); locked {
			break
		}
		select {
		case <-waited:
			t.Fatal("stubborn node exited before taking its lock")
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	stopped, err := Down(ctx, dir, time.Millisecond)
	if err != nil || !slices.Equal(stopped, []string{"node-1"}) {
		t.Fatalf("Down = %q, %v; want node-1 stopped", stopped, err)
	}
	if locked, _ := daemon.Locked(rdir); locked {
		t.Errorf("node-1 still locked after Down")
	}
}

// Testnet ports lie below the kernel's default ephemeral range, where no
// outgoing connection or port-0 listener can take one between its pick
// and its daemon's bind (or its restart), and are distinct.
func TestFreePortsBelowTheEphemeralRange(t *testing.T) {
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p < portLow || p >= portHigh || seen[p] {
			t.Fatalf("freePorts = %v: want 20 distinct ports in [%d, %d)", ports, portLow, portHigh)
		}
		seen[p] = true
	}
}
