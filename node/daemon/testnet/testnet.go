package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dsn-project/dsn/node/daemon"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// Names in a testnet directory.
const (
	EnvFile    = "env"        // holds the line DSN_REPO=<dir>/client
	ClientName = "client"     // the client node's repo
	LogFile    = "daemon.log" // each daemon's output, inside its repo
)

// MaxProviders bounds the size of a testnet.
const MaxProviders = 64

// ErrRunning is returned by Up when a node of the testnet is already running.
var ErrRunning = errors.New("testnet node already running")

// Options configure Up.
type Options struct {
	// Providers is the number of provider nodes.
	Providers int
	// Dir holds the nodes' repos. Repos already there are reused, so a
	// testnet that was brought down can be brought up again with its data.
	Dir string
	// Binary is the dsn executable to run.
	Binary string
	// Capacity of each provider in bytes (0: 1 GiB).
	Capacity int64
	// Timeout bounds the whole start (0: one minute).
	Timeout time.Duration
	// Log receives one line per step (nil: discarded).
	Log io.Writer
	// LogLevel is passed to each daemon's --log-level ("": info).
	LogLevel string
	// Epoch is passed to each daemon's --epoch (0: the repos' own).
	Epoch time.Duration
	// DealDuration, if set, is written to the config of each new repo
	// (with Epoch, which the config checks it against): short deals show
	// renewal and expiry within a test.
	DealDuration time.Duration
}

// Node is one running node of a testnet.
type Node struct {
	Name   string
	Dir    string
	PID    int
	API    string
	Status *api.Status

	token string // the API token that went with API
}

// Up starts the testnet's nodes as separate processes and returns once each
// has its routing table populated: every provider has a peer, and the client
// has every provider. It then writes the env file. If it fails, or ctx ends
// first, it stops every process it started before returning.
func Up(ctx context.Context, o Options) ([]Node, error) {
	if o.Providers < 1 || o.Providers > MaxProviders {
		return nil, fmt.Errorf("testnet: %d providers is out of range [1, %d]", o.Providers, MaxProviders)
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("testnet: timeout %v: want a positive duration", o.Timeout)
	}
	if o.Capacity <= 0 {
		o.Capacity = 1 << 30
	}
	if o.Timeout == 0 {
		o.Timeout = time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	names := make([]string, 0, o.Providers+1)
	for i := 1; i <= o.Providers; i++ {
		names = append(names, fmt.Sprintf("node-%d", i))
	}
	names = append(names, ClientName)
	for _, n := range names {
		if locked, err := daemon.Locked(filepath.Join(dir, n)); err != nil {
			return nil, fmt.Errorf("testnet: %s: %w", n, err)
		} else if locked {
			return nil, fmt.Errorf("testnet: %s in %s: %w (run dsn testnet down --dir %s first)", n, dir, ErrRunning, o.Dir)
		}
	}
	if err := initRepos(dir, names, o, o.Log); err != nil {
		return nil, err
	}

	// Start every provider at once: their bootstrap addresses are fixed in
	// their configs, and a provider whose bootstrap peer is not up yet
	// retries. The client, whose bootstrap list is every provider, starts
	// once they all listen: a node stops retrying its bootstrap list once
	// it has a few peers, and a slow machine must not leave the client
	// without the providers that were late.
	exited := make(chan string, len(names))
	nodes := make([]Node, 0, len(names))
	var started []*child
	// fail stops what was started: a daemon started a moment ago may not
	// hold its repo's lock yet, and runs in its own process group, out of
	// reach of the Ctrl-C that ended ctx, so it is stopped through the
	// process Up started, not through its repo.
	fail := func(err error) ([]Node, error) {
		if serr := stopChildren(started, o.Log); serr != nil {
			err = fmt.Errorf("%w; %w", err, serr)
		}
		return nil, fmt.Errorf("testnet: %w", err)
	}
	for _, n := range names {
		if n == ClientName {
			if err := waitListening(ctx, nodes, exited); err != nil {
				return fail(err)
			}
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("start %s: %w", n, context.Cause(ctx)))
		}
		c, err := start(o.Binary, filepath.Join(dir, n), o.LogLevel, o.Epoch, func(msg string) { exited <- n + ": " + msg })
		if err != nil {
			return fail(fmt.Errorf("start %s: %w", n, err))
		}
		started = append(started, c)
		nodes = append(nodes, Node{Name: n, Dir: filepath.Join(dir, n), PID: c.proc.Pid})
		fmt.Fprintf(o.Log, "started %s (pid %d)\n", n, c.proc.Pid)
	}
	if err := waitReady(ctx, nodes, o.Providers, exited); err != nil {
		return fail(err)
	}
	env := "DSN_REPO=" + filepath.Join(dir, ClientName) + "\n"
	if err := os.WriteFile(filepath.Join(dir, EnvFile), []byte(env), 0o644); err != nil {
		return fail(err)
	}
	return nodes, nil
}

// initRepos creates the repos that do not exist yet, each listening on a
// free loopback TCP port, and sets the bootstrap list of every repo, new or
// reused, to the testnet's providers: a node added to an existing testnet
// joins the nodes already there, and they and the client learn of it.
func initRepos(dir string, names []string, o Options, log io.Writer) error {
	type repo struct {
		name string
		cfg  daemon.Config
		addr string // bootstrap address, "" if it has none fit to dial
		id   string
	}
	repos := make([]*repo, len(names))
	ports, err := freePorts(len(names))
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	for i, n := range names {
		rdir := filepath.Join(dir, n)
		r := &repo{name: n}
		repos[i] = r
		if _, err := os.Stat(filepath.Join(rdir, daemon.ConfigFile)); err == nil {
			fmt.Fprintf(log, "reusing %s\n", rdir)
			if r.cfg, err = daemon.LoadConfig(filepath.Join(rdir, daemon.ConfigFile)); err != nil {
				return fmt.Errorf("testnet: %s: %w", n, err)
			}
			if r.id, err = daemon.PeerIDOf(rdir); err != nil {
				return fmt.Errorf("testnet: %s: %w", n, err)
			}
			if r.addr = dialAddr(r.cfg.Listen, r.id); r.addr == "" && n != ClientName {
				fmt.Fprintf(log, "%s listens on no fixed loopback TCP port; the other nodes do not bootstrap from it\n", n)
			}
			continue
		}
		cfg := daemon.DefaultConfig()
		tcp := ports[i]
		// TCP only: on loopback a dead peer's TCP port refuses at once,
		// while a QUIC dial to it waits for its handshake timeout, and
		// libp2p waits for both before giving up on the peer.
		cfg.Listen = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", tcp)}
		cfg.API = "127.0.0.1:0"
		cfg.Capacity = o.Capacity
		if o.DealDuration != 0 {
			cfg.DealDuration = daemon.Duration(o.DealDuration)
			cfg.Epoch = daemon.Duration(o.Epoch)
		}
		if n == ClientName {
			cfg.Capacity = 0
		}
		id, err := daemon.Init(rdir, cfg)
		if err != nil {
			return fmt.Errorf("testnet: %w", err)
		}
		r.cfg, r.id, r.addr = cfg, id, dialAddr(cfg.Listen, id)
	}
	ids := map[string]bool{}
	for _, r := range repos {
		ids[r.id] = true
	}
	for _, r := range repos {
		var want []string
		for _, b := range repos {
			// Providers only: the client, a DHT client, adds nothing
			// to another node's routing table.
			if b != r && b.name != ClientName && b.addr != "" {
				want = append(want, b.addr)
			}
		}
		boot := mergeBootstrap(r.cfg.Bootstrap, want, ids)
		if slices.Equal(boot, r.cfg.Bootstrap) {
			continue
		}
		r.cfg.Bootstrap = boot
		if err := daemon.WriteConfig(filepath.Join(dir, r.name), r.cfg); err != nil {
			return fmt.Errorf("testnet: %s: %w", r.name, err)
		}
	}
	return nil
}

// mergeBootstrap returns the bootstrap list have with every address of want
// added. Entries of have naming a peer in testnet (which may have moved)
// give way to want's; other entries, which the user added, are kept.
func mergeBootstrap(have, want []string, testnet map[string]bool) []string {
	out := make([]string, 0, len(have)+len(want))
	for _, a := range have {
		_, id, _ := strings.Cut(a, "/p2p/")
		if !testnet[id] || slices.Contains(want, a) {
			out = append(out, a)
		}
	}
	for _, a := range want {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// dialAddr returns the address other testnet nodes can bootstrap from: the
// first listen address on a fixed TCP port of 127.0.0.1 (or of every
// interface, which includes it), with the node's peer ID; "" if none.
func dialAddr(listen []string, id string) string {
	for _, l := range listen {
		p := strings.Split(l, "/")
		if len(p) != 5 || p[0] != "" || p[1] != "ip4" || (p[2] != "127.0.0.1" && p[2] != "0.0.0.0") || p[3] != "tcp" {
			continue
		}
		if port, err := strconv.Atoi(p[4]); err != nil || port <= 0 || port > 65535 {
			continue
		}
		return fmt.Sprintf("/ip4/127.0.0.1/tcp/%s/p2p/%s", p[4], id)
	}
	return ""
}

// Testnet ports are picked below the kernel's ephemeral range (Linux's
// default starts at 32768, macOS's at 49152): a port is free when picked
// but is bound by its daemon only later, and again after every restart,
// and in between any outgoing connection or port-0 listener on the
// machine could be handed a port of the ephemeral range. Ports outside it
// are taken only by programs that ask for them by number.
const (
	portLow  = 20000
	portHigh = 32768 // exclusive
)

// freePorts picks n distinct free loopback TCP ports in [portLow,
// portHigh). All sockets stay open until every port is picked, so no two
// are the same.
func freePorts(n int) ([]int, error) {
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries == 100*n {
			return nil, fmt.Errorf("pick a free port: %d of %d found in %d tries in [%d, %d)", len(ports), n, tries, portLow, portHigh)
		}
		port := portLow + rand.IntN(portHigh-portLow)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken
		}
		closers = append(closers, l)
		ports = append(ports, port)
	}
	return ports, nil
}

// child is a daemon process Up started.
type child struct {
	name string
	proc *os.Process
	done chan struct{} // closed once it has exited and been waited for
}

// start runs `binary node run --repo rdir` in its own process group (so a
// Ctrl-C meant for the command that started it does not stop it), with its
// output appended to the repo's log file. onExit is called if it exits.
func start(binary, rdir, logLevel string, epoch time.Duration, onExit func(string)) (*child, error) {
	logf, err := os.OpenFile(filepath.Join(rdir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	args := []string{"node", "run", "--repo", rdir}
	if logLevel != "" {
		args = append(args, "--log-level", logLevel)
	}
	if epoch != 0 {
		args = append(args, "--epoch", epoch.String())
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{name: filepath.Base(rdir), proc: cmd.Process, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		close(c.done)
		onExit(fmt.Sprintf("exited (%v); see %s", err, filepath.Join(rdir, LogFile)))
	}()
	return c, nil
}

// Bounds on stopping the daemons: how long one has to shut down after
// SIGTERM when Up gives up, and how long the kernel may take to end a
// process after SIGKILL and drop its lock.
const (
	abortGrace = 5 * time.Second
	killWait   = 5 * time.Second
)

// stopChildren stops the processes Up started: SIGTERM, and SIGKILL for
// those still running after abortGrace. Signals go through the
// *os.Process, which knows when its child has been waited for, so a pid
// reused since is never signalled.
func stopChildren(cs []*child, log io.Writer) error {
	signal := func(sig syscall.Signal, name string) {
		for _, c := range cs {
			if err := c.proc.Signal(sig); err == nil {
				fmt.Fprintf(log, "sent %s to %s (pid %d)\n", name, c.name, c.proc.Pid)
			}
		}
	}
	// wait waits up to d for every child to end, and names those that
	// have not.
	wait := func(d time.Duration) []string {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		for _, c := range cs {
			select {
			case <-c.done:
			case <-ctx.Done():
			}
		}
		var left []string
		for _, c := range cs {
			select {
			case <-c.done:
			default:
				left = append(left, fmt.Sprintf("%s (pid %d)", c.name, c.proc.Pid))
			}
		}
		return left
	}
	signal(syscall.SIGTERM, "SIGTERM")
	if wait(abortGrace) == nil {
		return nil
	}
	signal(syscall.SIGKILL, "SIGKILL")
	if left := wait(killWait); left != nil {
		return fmt.Errorf("still running after SIGKILL: %s", strings.Join(left, ", "))
	}
	return nil
}

// pollEvery is how often Up and Down look at the nodes.
const pollEvery = 100 * time.Millisecond

// waitReady polls every node's status until all routing tables are
// populated, a node exits, or ctx ends.
// waitListening polls every node's status until all answer: a daemon
// writes its API address only once its host listens.
func waitListening(ctx context.Context, nodes []Node, exited <-chan string) error {
	return waitNodes(ctx, nodes, exited, "listening", func(*Node) string { return "" })
}

// waitReady polls every node's status until each knows the peers
// wantRoutingTable asks of it.
func waitReady(ctx context.Context, nodes []Node, providers int, exited <-chan string) error {
	return waitNodes(ctx, nodes, exited, "ready", func(n *Node) string {
		if want := wantRoutingTable(n.Name, providers); known(n.Status) < want {
			return fmt.Sprintf("knows %d of %d peers (routing table %d, connected %d)", known(n.Status), want, n.Status.RoutingTable, len(n.Status.Peers))
		}
		return ""
	})
}

// waitNodes polls the status of every node until short, given a node
// whose status is known, says of none of them what it still lacks; it
// fails when a node exits or ctx ends, saying what each still lacked.
func waitNodes(ctx context.Context, nodes []Node, exited <-chan string, what string, short func(*Node) string) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		var lacking []string
		for i := range nodes {
			n := &nodes[i]
			if n.Status != nil && short(n) == "" {
				continue
			}
			s, err := status(ctx, n)
			if err != nil {
				lacking = append(lacking, fmt.Sprintf("%s: %v", n.Name, err))
				continue
			}
			n.Status = s
			if why := short(n); why != "" {
				lacking = append(lacking, n.Name+": "+why)
			}
		}
		if len(lacking) == 0 {
			return nil
		}
		select {
		case msg := <-exited:
			return errors.New(msg + lastLines(nodes, msg))
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("nodes not %s: %w", what, context.Cause(ctx))
			}
			return fmt.Errorf("not %s in time: %s", what, strings.Join(lacking, "; "))
		case <-t.C:
		}
	}
}

// known is how many peers a node knows: those in its routing table, or
// those it is connected to if more (the client, a DHT client, may be
// connected to providers its routing table has not taken in yet).
func known(s *api.Status) int { return max(s.RoutingTable, len(s.Peers)) }

// wantRoutingTable is how many peers node name must know for the testnet to
// be up: the client, which places shards, every provider; a provider at
// least one peer, so it is part of the network.
// Asking each provider for all the others would wait on the DHT's periodic
// refresh: Kademlia adds a peer to a routing table only when the two
// interact, and in a small network some pairs do not at first.
func wantRoutingTable(name string, providers int) int {
	if name == ClientName {
		return providers
	}
	return min(1, providers-1)
}

// status asks node n for its status. Until the node has answered once, the
// API address and token are read afresh on every call: a daemon that did
// not shut down cleanly leaves its files behind, and the new daemon
// replaces them only once it listens.
func status(ctx context.Context, n *Node) (*api.Status, error) {
	addr, token := n.API, n.token
	if n.Status == nil {
		var err error
		if addr, err = api.ReadAddr(n.Dir); err != nil {
			return nil, err
		}
		if token, err = api.ReadToken(n.Dir); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := api.New(addr, token).Status(ctx)
	if err != nil {
		return nil, err
	}
	n.API, n.token = addr, token
	return s, nil
}

// lastLines returns the end of the log of the node msg is about, so that
// the reason a node died is in the error.
func lastLines(nodes []Node, msg string) string {
	for _, n := range nodes {
		if !strings.HasPrefix(msg, n.Name+":") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(n.Dir, LogFile))
		if err != nil {
			return ""
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return "\n" + strings.Join(lines[max(0, len(lines)-5):], "\n")
	}
	return ""
}

// Down stops every node of the testnet in dir: SIGTERM, then SIGKILL for a
// node still running after timeout, which must be positive. It returns the
// names of the nodes it stopped.
func Down(ctx context.Context, dir string, timeout time.Duration) ([]string, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("testnet down: timeout %v: want a positive duration (the time each node has to shut down after SIGTERM)", timeout)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("testnet down: %w", err)
	}
	var stopped []string
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || (!strings.HasPrefix(e.Name(), "node-") && e.Name() != ClientName) {
			continue
		}
		if ctx.Err() != nil {
			errs = append(errs, context.Cause(ctx))
			break
		}
		was, err := stop(ctx, filepath.Join(dir, e.Name()), timeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Name(), err))
		}
		if was {
			stopped = append(stopped, e.Name())
		}
	}
	return stopped, errors.Join(errs...)
}

// stop stops the process holding the lock of the repo in rdir, if any, and
// reports whether there was one: SIGTERM, then SIGKILL if it still holds
// the lock after timeout. The pid comes from the lock file, written by the
// holder once it had the lock; the lock, not the pid, says whether the
// process is still there, so a reused pid is never signalled after the
// daemon is gone.
func stop(ctx context.Context, rdir string, timeout time.Duration) (bool, error) {
	locked, err := daemon.Locked(rdir)
	if err != nil || !locked {
		return false, err
	}
	b, err := os.ReadFile(filepath.Join(rdir, daemon.LockFile))
	if err != nil {
		return true, err
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 1 {
		return true, fmt.Errorf("lock file holds %q, not a pid", b)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("signal pid %d: %w", pid, err)
	}
	if released(ctx, rdir, timeout) {
		return true, nil
	}
	if ctx.Err() != nil {
		return true, fmt.Errorf("pid %d: waiting for it to stop: %w", pid, context.Cause(ctx))
	}
	// Still locked when last looked at: pid is still the holder.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("signal pid %d: %w", pid, err)
	}
	// However short timeout was, the kernel needs a moment to end the
	// process and drop its lock.
	if released(ctx, rdir, killWait) {
		return true, nil
	}
	if ctx.Err() != nil {
		return true, fmt.Errorf("pid %d: waiting for it to end after SIGKILL: %w", pid, context.Cause(ctx))
	}
	return true, fmt.Errorf("pid %d still holds the repo %v after SIGKILL", pid, killWait)
}

// released waits up to d for the lock of the repo in rdir to be free, and
// reports whether it is.
func released(ctx context.Context, rdir string, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery / 4)
	defer tick.Stop()
	for {
		if locked, err := daemon.Locked(rdir); err == nil && !locked {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			locked, err := daemon.Locked(rdir)
			return err == nil && !locked
		case <-tick.C:
		}
	}
}
