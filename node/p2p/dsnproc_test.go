package p2p

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsn-project/dsn/node/p2p/netnstest"
)

// Helpers to run the real dsn command (cmd/dsn, built by the test) inside
// network namespaces: `dsn init`, `dsn node run` daemons, and `dsn store`,
// `dsn retrieve` and `dsn status` against them. The daemons' HTTP APIs
// listen on 127.0.0.1 of their own namespace, so the commands that talk to
// them run in the same namespace.

// buildDSN builds cmd/dsn into dir; it returns the binary's path or the
// build's error and output.
func buildDSN(dir string) (string, error) {
	bin := filepath.Join(dir, "dsn")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/dsn-project/dsn/cmd/dsn").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/dsn: %v\n%s", err, out)
	}
	return bin, nil
}

// dsnNode is a dsn repo and, once run, its daemon in a namespace.
type dsnNode struct {
	t    *testing.T
	name string
	bin  string
	ns   *netnstest.Namespace
	repo string
	ID   string
	cmd  *exec.Cmd
	done chan struct{}
	log  *lockedBuffer
}

// dsnCmd runs the dsn command in ns and returns its standard output.
func dsnCmd(t *testing.T, bin string, ns *netnstest.Namespace, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := ns.Command(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("dsn %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// newDSNNode creates a repo for a node named name in ns with `dsn init`.
func newDSNNode(t *testing.T, bin string, ns *netnstest.Namespace, name string, listen, bootstrap []string, capacity string) *dsnNode {
	t.Helper()
	d := &dsnNode{t: t, name: name, bin: bin, ns: ns, repo: filepath.Join(t.TempDir(), name), log: &lockedBuffer{}}
	args := []string{"init", "--repo", d.repo, "--capacity", capacity, "--api", "127.0.0.1:0",
		"--listen", strings.Join(listen, ",")}
	if len(bootstrap) > 0 {
		args = append(args, "--bootstrap", strings.Join(bootstrap, ","))
	}
	out, err := dsnCmd(t, bin, ns, 30*time.Second, args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if id, ok := strings.CutPrefix(line, "peer id "); ok {
			d.ID = strings.TrimSpace(id)
		}
	}
	if d.ID == "" {
		t.Fatalf("dsn init printed no peer id:\n%s", out)
	}
	return d
}

// run starts the node's daemon and waits until its API answers (it
// prints the API's address then).
func (d *dsnNode) run() {
	t := d.t
	t.Helper()
	d.cmd = d.ns.Command(context.Background(), d.bin, "node", "run", "--repo", d.repo, "--log-level", "debug")
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d.cmd.Stderr = d.log
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start dsn daemon %s: %v", d.name, err)
	}
	d.done = make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := false
		for sc.Scan() {
			if !once && strings.HasPrefix(sc.Text(), "api ") {
				once = true
				close(ready)
			}
		}
	}()
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("dsn daemon %s (%s) log:\n%s", d.name, d.ID, d.log.String())
		}
	})
	select {
	case <-ready:
	case <-d.done:
		t.Fatalf("dsn daemon %s exited at start:\n%s", d.name, d.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("dsn daemon %s: API not up within 30s:\n%s", d.name, d.log.String())
	}
}

// stop stops the daemon (SIGTERM, then SIGKILL after 10 s) and waits for
// it to exit.
func (d *dsnNode) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// dsnStatus is the part of `dsn status --json` the tests read.
type dsnStatus struct {
	Addrs        []string `json:"addrs"`
	Peers        []string `json:"peers"`
	RoutingTable int      `json:"routing_table"`
	Shards       int64    `json:"shards"`
}

func (d *dsnNode) status() dsnStatus {
	d.t.Helper()
	out, err := dsnCmd(d.t, d.bin, d.ns, 10*time.Second, "status", "--repo", d.repo, "--json")
	if err != nil {
		d.t.Fatal(err)
	}
	var s dsnStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		d.t.Fatalf("dsn status --json of %s: %v\n%s", d.name, err, out)
	}
	return s
}

// writeFile writes b to a new file in a temporary directory.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
