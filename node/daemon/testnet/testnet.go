package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
}

// Up starts the testnet's nodes as separate processes and returns once each
// has its routing table populated: every provider has a peer, and the client
// has every provider. It then writes the env file.
func Up(ctx context.Context, o Options) ([]Node, error) {
	if o.Providers < 1 || o.Providers > MaxProviders {
		return nil, fmt.Errorf("testnet: %d providers is out of range [1, %d]", o.Providers, MaxProviders)
	}
	if o.Capacity <= 0 {
		o.Capacity = 1 << 30
	}
	if o.Timeout <= 0 {
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
	nodes := make([]Node, len(names))
	for i, n := range names {
		if n == ClientName {
			if err := waitListening(ctx, nodes[:i], exited); err != nil {
				stopStarted(dir, names[:i])
				return nil, fmt.Errorf("testnet: %w", err)
			}
		}
		pid, err := start(o.Binary, filepath.Join(dir, n), o.LogLevel, o.Epoch, func(msg string) { exited <- n + ": " + msg })
		if err != nil {
			stopStarted(dir, names[:i])
			return nil, fmt.Errorf("testnet: start %s: %w", n, err)
		}
		nodes[i] = Node{Name: n, Dir: filepath.Join(dir, n), PID: pid}
		fmt.Fprintf(o.Log, "started %s (pid %d)\n", n, pid)
	}
	if err := waitReady(ctx, nodes, o.Providers, exited); err != nil {
		stopStarted(dir, names)
		return nil, fmt.Errorf("testnet: %w", err)
	}
	env := "DSN_REPO=" + filepath.Join(dir, ClientName) + "\n"
	if err := os.WriteFile(filepath.Join(dir, EnvFile), []byte(env), 0o644); err != nil {
		stopStarted(dir, names)
		return nil, fmt.Errorf("testnet: %w", err)
	}
	return nodes, nil
}

// initRepos creates the repos that do not exist yet, each listening on
// free loopback ports, bootstrapped to node-1 and to the node before it.
func initRepos(dir string, names []string, o Options, log io.Writer) error {
	type fresh struct {
		name, id string
		cfg      daemon.Config
	}
	var news []*fresh
	addrs := map[string]string{} // name -> bootstrap address of a new node
	ports, err := freePorts(len(names))
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	for i, n := range names {
		rdir := filepath.Join(dir, n)
		if _, err := os.Stat(filepath.Join(rdir, daemon.ConfigFile)); err == nil {
			fmt.Fprintf(log, "reusing %s\n", rdir)
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
		news = append(news, &fresh{n, id, cfg})
		addrs[n] = fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", tcp, id)
	}
	for _, f := range news {
		var boot []string
		for _, b := range bootstrapFor(f.name, names) {
			if a, ok := addrs[b]; ok {
				boot = append(boot, a)
			}
		}
		if len(boot) == 0 {
			continue
		}
		f.cfg.Bootstrap = boot
		if err := daemon.WriteConfig(filepath.Join(dir, f.name), f.cfg); err != nil {
			return fmt.Errorf("testnet: %s: %w", f.name, err)
		}
	}
	return nil
}

// bootstrapFor names the nodes a node bootstraps to: node-1, and the node
// started before it, so the network stays connected without node-1. The
// client, last, knows every provider from the start.
func bootstrapFor(name string, names []string) []string {
	if name == ClientName {
		return slices.Clone(names[:len(names)-1])
	}
	i := slices.Index(names, name)
	var out []string
	if i > 0 {
		out = append(out, names[0])
	}
	// node-1 bootstraps to node-2 (names end with the client), so that
	// it can rejoin after a crash before it has remembered any peer.
	if i == 0 && len(names) > 2 {
		out = append(out, names[1])
	}
	if i > 1 {
		out = append(out, names[i-1])
	}
	return out
}

// freePorts picks n distinct free loopback TCP ports. All sockets stay
// open until every port is picked, so no two are the same.
func freePorts(n int) ([]int, error) {
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		closers = append(closers, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// start runs `binary node run --repo rdir` in its own process group (so a
// Ctrl-C meant for the command that started it does not stop it), with its
// output appended to the repo's log file. onExit is called if it exits.
func start(binary, rdir, logLevel string, epoch time.Duration, onExit func(string)) (int, error) {
	logf, err := os.OpenFile(filepath.Join(rdir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
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
		return 0, err
	}
	go func() {
		err := cmd.Wait()
		onExit(fmt.Sprintf("exited (%v); see %s", err, filepath.Join(rdir, LogFile)))
	}()
	return cmd.Process.Pid, nil
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

func status(ctx context.Context, n *Node) (*api.Status, error) {
	if n.API == "" {
		addr, err := api.ReadAddr(n.Dir)
		if err != nil {
			return nil, err
		}
		n.API = addr
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	token, err := api.ReadToken(n.Dir)
	if err != nil {
		return nil, err
	}
	return api.New(n.API, token).Status(ctx)
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

func stopStarted(dir string, names []string) {
	for _, n := range names {
		stop(context.Background(), filepath.Join(dir, n), 5*time.Second)
	}
}

// Down stops every node of the testnet in dir: SIGTERM, then SIGKILL for a
// node still running after timeout. It returns the names of the nodes it
// stopped.
func Down(ctx context.Context, dir string, timeout time.Duration) ([]string, error) {
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
// reports whether there was one. The pid comes from the lock file, written
// by the holder once it had the lock; the lock, not the pid, says whether
// the process is still there, so a reused pid is never signalled after the
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
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return true, fmt.Errorf("signal pid %d: %w", pid, err)
		}
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if locked, err := daemon.Locked(rdir); err == nil && !locked {
				return true, nil
			}
			time.Sleep(pollEvery)
		}
	}
	return true, fmt.Errorf("pid %d still holds the repo after SIGKILL", pid)
}
