package p2p

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/p2p/netnstest"
)

// An agent is this test binary run inside a network namespace as one
// libp2p node (a Host as New makes it), driven by the test over its
// standard input and output: one JSON request per line in, one JSON answer
// per line out. A node needs a process of its own to live in a namespace:
// a Go process cannot keep its sockets in several namespaces, as goroutines
// move between threads.

// agentEnv carries the agent's JSON config; TestMain runs the agent when it
// is set.
const agentEnv = "DSN_P2P_NETNS_AGENT"

// echoProto is served by every agent: it writes back what it reads (at
// most echoMax bytes) and closes.
const (
	echoProto = "/dsn/test/echo/1.0.0"
	echoMax   = 1 << 20
)

type agentConfig struct {
	Listen    []string
	Bootstrap []string
	Server    bool
	MDNS      bool
}

type agentReq struct {
	// Op is "state", "connect" (to Addr) or "echo" (Data to Peer).
	Op   string
	Addr string
	Peer string
	Data string
	// Limited opens the echo stream on a relayed (limited) connection
	// (see relayedStream), rather than through Host.NewStream, which uses
	// direct connections only.
	Limited bool
	Timeout time.Duration
}

type connInfo struct {
	Peer    string
	Remote  string
	Limited bool
}

type agentResp struct {
	Err   string `json:",omitempty"`
	ID    string `json:",omitempty"`
	Addrs []string
	// Reach is the host's reachability as AutoNAT v1 last reported it
	// ("Public", "Private" or "Unknown"); the DHT's auto mode, the relay
	// client and the relay service all act on it.
	Reach string
	// Reachable and Unreachable are the addresses AutoNAT v2 has
	// confirmed, per address.
	Reachable, Unreachable []string
	Conns                  []connInfo
	Data                   string
	Conn                   connInfo // the connection an echo went over
}

// runAgent runs an agent until its standard input ends; it returns the
// process's exit code.
func runAgent(cfgJSON string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "agent:", err)
		return 1
	}
	var cfg agentConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return fail(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	h, err := New(ctx, key, Config{
		ListenAddrs: cfg.Listen, Bootstrap: cfg.Bootstrap, Server: cfg.Server,
		MDNS: cfg.MDNS, Logger: log,
	})
	if err != nil {
		return fail(err)
	}
	defer h.Close()

	var mu sync.Mutex
	var st agentResp
	st.Reach = network.ReachabilityUnknown.String()
	sub, err := h.h.EventBus().Subscribe([]any{
		new(event.EvtLocalReachabilityChanged), new(event.EvtHostReachableAddrsChanged),
	})
	if err != nil {
		return fail(err)
	}
	defer sub.Close()
	go func() {
		for e := range sub.Out() {
			mu.Lock()
			switch e := e.(type) {
			case event.EvtLocalReachabilityChanged:
				st.Reach = e.Reachability.String()
				log.Info("reachability", "v1", st.Reach)
			case event.EvtHostReachableAddrsChanged:
				st.Reachable, st.Unreachable = addrStrings(e.Reachable), addrStrings(e.Unreachable)
				log.Info("reachable addrs", "reachable", st.Reachable, "unreachable", st.Unreachable)
			}
			mu.Unlock()
		}
	}()

	h.SetStreamHandler(echoProto, func(s dsn.Stream) {
		defer s.Close()
		b, err := io.ReadAll(io.LimitReader(s, echoMax))
		if err == nil {
			_, _ = s.Write(b)
		}
	})
	if len(cfg.Bootstrap) > 0 {
		go func() {
			if err := h.Bootstrap(ctx); err != nil {
				log.Warn("bootstrap", "err", err)
			}
		}()
	}

	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(agentResp{ID: h.h.ID().String(), Addrs: h.Addrs()}); err != nil {
		return fail(err)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var req agentReq
		var resp agentResp
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			resp.Err = err.Error()
		} else {
			mu.Lock()
			resp.Reach, resp.Reachable, resp.Unreachable = st.Reach, st.Reachable, st.Unreachable
			mu.Unlock()
			if err := serveAgentReq(ctx, h, req, &resp); err != nil {
				resp.Err = err.Error()
			}
		}
		if err := out.Encode(resp); err != nil {
			return fail(err)
		}
	}
	return 0
}

func addrStrings(as []ma.Multiaddr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

func connInfoOf(c network.Conn) connInfo {
	return connInfo{Peer: c.RemotePeer().String(), Remote: c.RemoteMultiaddr().String(), Limited: c.Stat().Limited}
}

func serveAgentReq(ctx context.Context, h *Host, req agentReq, resp *agentResp) error {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp.ID = h.h.ID().String()
	resp.Addrs = h.Addrs()
	for _, c := range h.h.Network().Conns() {
		resp.Conns = append(resp.Conns, connInfoOf(c))
	}
	switch req.Op {
	case "state":
		return nil
	case "connect":
		return h.Connect(ctx, req.Addr)
	case "echo":
		pid, err := peer.Decode(req.Peer)
		if err != nil {
			return err
		}
		var s network.Stream
		if req.Limited {
			s, err = relayedStream(ctx, h, pid)
		} else {
			var ds dsn.Stream
			if ds, err = h.NewStream(ctx, dsn.PeerID(pid), echoProto); err == nil {
				s = ds.(*stream).s
			}
		}
		if err != nil {
			return err
		}
		defer s.Close()
		resp.Conn = connInfoOf(s.Conn())
		_ = s.SetDeadline(time.Now().Add(timeout))
		if _, err := io.WriteString(s, req.Data); err != nil {
			return err
		}
		if err := s.CloseWrite(); err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(s, echoMax))
		resp.Data = string(b)
		return err
	}
	return fmt.Errorf("unknown op %q", req.Op)
}

// relayedStream opens an echo stream on a relayed connection to p, not on
// whichever connection libp2p likes best: hole punching may have added a
// direct one by now.
func relayedStream(ctx context.Context, h *Host, p peer.ID) (network.Stream, error) {
	for _, c := range h.h.Network().ConnsToPeer(p) {
		if !c.Stat().Limited {
			continue
		}
		s, err := c.NewStream(network.WithAllowLimitedConn(ctx, "test of the relay"))
		if err != nil {
			return nil, err
		}
		if err := s.SetProtocol(protocol.ID(echoProto)); err != nil {
			_ = s.Reset()
			return nil, err
		}
		if err := msmux.SelectProtoOrFail(protocol.ID(echoProto), s); err != nil {
			_ = s.Reset()
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("no relayed connection to %s", p)
}

// agent is the test's side of a running agent.
type agent struct {
	t      *testing.T
	name   string
	ID     string
	Addrs  []string
	mu     sync.Mutex // one request at a time
	stdin  io.WriteCloser
	lines  chan []byte
	stderr *lockedBuffer
}

// lockedBuffer keeps the last lockedBufferMax bytes written to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

const lockedBufferMax = 16 << 10

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if n := len(l.b); n > lockedBufferMax {
		l.b = append(l.b[:0], l.b[n-lockedBufferMax:]...)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// startAgent starts an agent named name in ns and waits for its first
// line (its ID and addresses). The agent stops at the test's cleanup, which
// runs before that of the namespaces made earlier.
func startAgent(t *testing.T, ns *netnstest.Namespace, name string, cfg agentConfig) *agent {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command(context.Background(), exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), agentEnv+"="+string(cj))
	// The agent dies with the test process, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	a := &agent{t: t, name: name, lines: make(chan []byte, 16), stderr: &lockedBuffer{}}
	cmd.Stderr = a.stderr
	if a.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start agent %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(a.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			a.lines <- bytes.Clone(sc.Bytes())
		}
	}()
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = a.stdin.Close() // the agent closes its host and exits
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("agent %s (%s) log:\n%s", name, a.ID, a.stderr.String())
		}
	})
	first := a.read(30 * time.Second)
	a.ID, a.Addrs = first.ID, first.Addrs
	t.Logf("agent %s in %s: %s %v", name, ns.Name, a.ID, a.Addrs)
	return a
}

func (a *agent) read(timeout time.Duration) agentResp {
	a.t.Helper()
	select {
	case line, ok := <-a.lines:
		if !ok {
			a.t.Fatalf("agent %s exited; its log:\n%s", a.name, a.stderr.String())
		}
		var r agentResp
		if err := json.Unmarshal(line, &r); err != nil {
			a.t.Fatalf("agent %s: bad answer %q: %v", a.name, line, err)
		}
		return r
	case <-time.After(timeout):
		a.t.Fatalf("agent %s: no answer within %v; its log:\n%s", a.name, timeout, a.stderr.String())
	}
	panic("unreachable")
}

// do sends req and returns the answer; an answer with Err set is returned
// as an error.
func (a *agent) do(req agentReq) (agentResp, error) {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	b, _ := json.Marshal(req)
	if _, err := a.stdin.Write(append(b, '\n')); err != nil {
		a.t.Fatalf("agent %s: %v", a.name, err)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	r := a.read(timeout + 5*time.Second)
	if r.Err != "" {
		return r, errors.New(r.Err)
	}
	return r, nil
}

func (a *agent) state() agentResp {
	a.t.Helper()
	r, err := a.do(agentReq{Op: "state"})
	if err != nil {
		a.t.Fatalf("agent %s state: %v", a.name, err)
	}
	return r
}

// waitFor polls cond every 100 ms until it returns "" (met) or the
// deadline passes; it then fails the test with cond's last word on what is
// missing.
func waitFor(t *testing.T, what string, deadline time.Duration, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	end := time.After(deadline)
	last := cond()
	for last != "" {
		select {
		case <-end:
			t.Fatalf("%s: not within %v: %s", what, deadline, last)
		case <-tick.C:
			last = cond()
		}
	}
	return time.Since(start)
}
