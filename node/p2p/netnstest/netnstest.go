package netnstest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// namePrefix starts the name of every namespace this package makes, so a
// later run can find and remove what a killed run left behind.
const namePrefix = "dsnt"

// cmdTimeout bounds one ip or nft command.
const cmdTimeout = 20 * time.Second

// netCounter makes the prefixes of several Nets in one process distinct.
var netCounter atomic.Int64

// Missing names what this machine lacks to build namespaces with NAT (not
// root, no ip command, no nft command), or returns "" when nothing is.
func Missing() string {
	var miss []string
	if os.Geteuid() != 0 {
		miss = append(miss, "root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)")
	}
	for _, c := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(c); err != nil {
			pkg := map[string]string{"ip": "iproute2", "nft": "nftables"}[c]
			miss = append(miss, fmt.Sprintf("the %s command (Debian package %s)", c, pkg))
		}
	}
	return strings.Join(miss, ", ")
}

// Net is one test's set of namespaces. Its methods fail the test on error;
// they must be called from the test's goroutine.
type Net struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
	links  int // veth pairs made, for unique names in switches
}

// New returns an empty Net for t, or skips t (naming what is missing) when
// the machine cannot build one. It first removes namespaces left by earlier
// runs whose process is gone.
func New(t testing.TB) *Net {
	t.Helper()
	if m := Missing(); m != "" {
		t.Skipf("needs %s", m)
	}
	removeStale(t)
	prefix := fmt.Sprintf("%s%d_%d", namePrefix, os.Getpid(), netCounter.Add(1))
	return &Net{t: t, prefix: prefix}
}

// removeStale deletes namespaces named by this package for a process that
// no longer runs.
func removeStale(t testing.TB) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, namePrefix)
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "_")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid == os.Getpid() || processExists(pid) {
			continue
		}
		if err := exec.Command("ip", "netns", "delete", name).Run(); err == nil {
			t.Logf("removed namespace %s left by process %d", name, pid)
		}
	}
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// run runs a command on the test's behalf, failing the test with its output
// when it fails.
func (n *Net) run(name string, args ...string) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		n.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
}

// Namespace is a network namespace made by a Net.
type Namespace struct {
	n *Net
	// Name is the namespace's name, as ip netns knows it.
	Name string
}

// Namespace makes a namespace with its loopback up. short (a few letters)
// is added to the run's prefix to form the name.
func (n *Net) Namespace(short string) *Namespace {
	n.t.Helper()
	name := n.prefix + "_" + short
	n.run("ip", "netns", "add", name)
	n.t.Cleanup(func() {
		// Deleting the namespace removes its interfaces too, and so both
		// ends of every veth pair with an end in it.
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			n.t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
	})
	ns := &Namespace{n: n, Name: name}
	ns.IP("link", "set", "lo", "up")
	return ns
}

// IP runs `ip -n <ns> args...`.
func (ns *Namespace) IP(args ...string) {
	ns.n.t.Helper()
	ns.n.run("ip", append([]string{"-n", ns.Name}, args...)...)
}

// Exec runs a command inside the namespace, failing the test if it fails.
func (ns *Namespace) Exec(name string, args ...string) {
	ns.n.t.Helper()
	ns.n.run("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Command returns a command that runs name inside the namespace (through
// `ip netns exec`, which enters the namespace and then executes name in
// the same process, so the returned Cmd's process is name's).
func (ns *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Link joins a and b with a veth pair: interface ifA with address cidrA
// (like "10.0.0.1/24") in a, ifB with cidrB in b. An empty address leaves
// that end without one.
func (n *Net) Link(a *Namespace, ifA, cidrA string, b *Namespace, ifB, cidrB string) {
	n.t.Helper()
	a.IP("link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b.Name)
	for _, e := range []struct {
		ns       *Namespace
		ifc, adr string
	}{{a, ifA, cidrA}, {b, ifB, cidrB}} {
		if e.adr != "" {
			e.ns.IP("addr", "add", e.adr, "dev", e.ifc)
		}
		e.ns.IP("link", "set", e.ifc, "up")
	}
}

// Switch is a bridge inside a namespace of its own: an Ethernet segment
// that hosts are plugged into.
type Switch struct {
	ns *Namespace
}

// Switch makes a segment in a new namespace named short.
func (n *Net) Switch(short string) *Switch {
	n.t.Helper()
	ns := n.Namespace(short)
	ns.IP("link", "add", "br0", "type", "bridge")
	ns.IP("link", "set", "br0", "up")
	return &Switch{ns: ns}
}

// Plug connects host to the segment through interface ifc with address
// cidr.
func (s *Switch) Plug(host *Namespace, ifc, cidr string) {
	n := s.ns.n
	n.t.Helper()
	n.mu.Lock()
	n.links++
	port := fmt.Sprintf("port%d", n.links)
	n.mu.Unlock()
	n.Link(host, ifc, cidr, s.ns, port, "")
	s.ns.IP("link", "set", port, "master", "br0")
}

// DefaultRoute sends everything not on a local segment to gw.
func (ns *Namespace) DefaultRoute(gw string) {
	ns.n.t.Helper()
	ns.IP("route", "add", "default", "via", gw)
}

// NAT makes ns a home router: it forwards from the LAN interface lan to
// the WAN interface wan, rewriting sources to its WAN address (nftables
// masquerade), and lets in from wan only packets of connections opened from
// inside (conntrack state established or related); anything unsolicited is
// dropped, not refused, as most home routers do.
//
// Linux's masquerade keeps a connection's source port when it is free, so
// one inside socket keeps one outside port whatever the destination
// (endpoint-independent mapping) while inbound packets pass only from where
// the inside socket sent to (address- and port-dependent filtering): a
// port-restricted cone NAT, the kind hole punching is meant to cross.
func (ns *Namespace) NAT(lan, wan string) {
	ns.n.t.Helper()
	ns.Exec("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	rules := fmt.Sprintf(`
table ip dsnnat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname %[2]q masquerade
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname %[2]q ct state established,related accept
		iifname %[2]q drop
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		iifname %[1]q oifname %[2]q accept
		iifname %[2]q oifname %[1]q ct state established,related accept
	}
}
`, lan, wan)
	f, err := os.CreateTemp(ns.n.t.TempDir(), "nft-*.conf")
	if err != nil {
		ns.n.t.Fatalf("nft rules: %v", err)
	}
	if _, err := f.WriteString(rules); err != nil {
		ns.n.t.Fatalf("nft rules: %v", err)
	}
	f.Close()
	ns.Exec("nft", "-f", f.Name())
}
