package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsn-project/dsn/node/daemon"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// buildDSN builds the dsn binary into a temporary directory.
func buildDSN(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dsn")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// dsnCmd runs the dsn binary with env added and returns its stdout; it
// fails the test, showing stderr, if the command fails.
func dsnCmd(t *testing.T, ctx context.Context, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dsn %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestTestnetEndToEnd runs what a new user would: a testnet of eight
// provider processes, a 64 MiB store through the client node, two providers
// holding shards killed with SIGKILL, and a retrieval compared byte for
// byte. Then the surviving providers but one are stopped and restarted
// without any bootstrap list: they must find each other again from the
// peers they persisted.
func TestTestnetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dsn and runs eight processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := buildDSN(t)
	dir := filepath.Join(t.TempDir(), "tn")
	t.Cleanup(func() {
		// Never leave processes behind, whatever failed.
		exec.Command(bin, "testnet", "down", "--dir", dir, "--timeout", "5s").Run()
	})

	out := dsnCmd(t, ctx, bin, nil, "testnet", "up", "--providers", "8", "--dir", dir, "--capacity", "256MiB")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	envLine := lines[len(lines)-1]
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil || strings.TrimSpace(string(env)) != envLine || envLine != "DSN_REPO="+filepath.Join(dir, "client") {
		t.Fatalf("env file = %q, %v; testnet up printed %q; want DSN_REPO=%s", env, err, envLine, filepath.Join(dir, "client"))
	}

	data := make([]byte, 64<<20)
	rand.NewChaCha8([32]byte{7}).Read(data)
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out = dsnCmd(t, ctx, bin, []string{envLine}, "store", in)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	ref := lines[len(lines)-1]
	if !strings.HasPrefix(ref, "dsn:") || !strings.Contains(ref, "#") {
		t.Fatalf("dsn store printed %q, want a reference with a key as the last line", out)
	}

	// Kill two providers that hold shards of the file.
	var killed []string
	for i := 1; i <= 8 && len(killed) < 2; i++ {
		rdir := filepath.Join(dir, "node-"+strconv.Itoa(i))
		c, err := api.Dial(ctx, rdir)
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Shards == 0 {
			continue
		}
		if err := syscall.Kill(daemonPID(t, rdir), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed = append(killed, rdir)
	}
	if len(killed) < 2 {
		t.Fatalf("only %d providers hold shards of a k=4 m=2 file", len(killed))
	}
	for _, rdir := range killed {
		waitFor(t, ctx, rdir+" to release its lock", func() bool {
			locked, err := daemon.Locked(rdir)
			return err == nil && !locked
		})
	}

	outFile := filepath.Join(t.TempDir(), "out")
	start := time.Now()
	dsnCmd(t, ctx, bin, []string{envLine}, "retrieve", ref, "-o", outFile)
	t.Logf("retrieve took %v", time.Since(start))
	got, err := os.ReadFile(outFile)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("retrieved %d bytes (%v), want the %d stored bytes", len(got), err, len(data))
	}

	// Stop all the surviving providers but one and restart them with no
	// bootstrap list at all.
	var alive []string
	for i := 1; i <= 8; i++ {
		rdir := filepath.Join(dir, "node-"+strconv.Itoa(i))
		if !slices.Contains(killed, rdir) {
			alive = append(alive, rdir)
		}
	}
	keep, restart := alive[len(alive)-1], alive[:len(alive)-1]
	for _, rdir := range restart {
		stopNode(t, ctx, rdir)
	}
	for _, rdir := range restart {
		r, err := daemon.OpenRepo(rdir)
		if err != nil {
			t.Fatal(err)
		}
		cfg := r.Config
		r.Close()
		cfg.Bootstrap = nil
		if err := daemon.WriteConfig(rdir, cfg); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "node", "run", "--repo", rdir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
	}
	for _, rdir := range restart {
		waitFor(t, ctx, rdir+" to rejoin from its persisted peers", func() bool {
			c, err := api.Dial(ctx, rdir)
			if err != nil {
				return false
			}
			s, err := c.Status(ctx)
			// The other restarted nodes and the one kept running.
			return err == nil && s.RoutingTable >= len(restart)
		})
	}
	t.Logf("%d providers rejoined without a bootstrap list; %s kept running", len(restart), filepath.Base(keep))

	out = dsnCmd(t, ctx, bin, nil, "testnet", "down", "--dir", dir)
	if n := strings.Count(out, "stopped "); n != len(alive)+1 {
		t.Errorf("testnet down printed %q, want %d nodes stopped (the providers alive and the client)", out, len(alive)+1)
	}
	for _, name := range []string{filepath.Base(keep), "client"} {
		if locked, _ := daemon.Locked(filepath.Join(dir, name)); locked {
			t.Errorf("%s still running after testnet down", name)
		}
	}
}

// daemonPID reads the pid of the daemon running on rdir.
func daemonPID(t *testing.T, rdir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rdir, daemon.PIDFile))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// upTestnet builds dsn and brings up a testnet of the given number of
// 256 MiB providers in a temporary directory, with more flags for testnet
// up; it is brought down when the test ends. It returns the binary, the
// testnet's directory and the environment that points dsn at its client.
func upTestnet(t *testing.T, ctx context.Context, providers int, flags ...string) (bin, dir string, env []string) {
	t.Helper()
	bin = buildDSN(t)
	dir = filepath.Join(t.TempDir(), "tn")
	t.Cleanup(func() { exec.Command(bin, "testnet", "down", "--dir", dir, "--timeout", "5s").Run() })
	args := append([]string{"testnet", "up", "--providers", strconv.Itoa(providers), "--dir", dir, "--capacity", "256MiB"}, flags...)
	dsnCmd(t, ctx, bin, nil, args...)
	return bin, dir, []string{"DSN_REPO=" + filepath.Join(dir, "client")}
}

// stopNode stops the daemon of rdir with SIGTERM, so it saves its peers,
// and waits until it has let go of its repo.
func stopNode(t *testing.T, ctx context.Context, rdir string) {
	t.Helper()
	signalNode(t, ctx, rdir, syscall.SIGTERM)
}

// killNode kills the daemon of rdir with SIGKILL, as a crash would, and
// waits until its repo is free.
func killNode(t *testing.T, ctx context.Context, rdir string) {
	t.Helper()
	signalNode(t, ctx, rdir, syscall.SIGKILL)
}

// signalNode sends sig to the daemon of rdir and waits until it has let
// go of its repo.
func signalNode(t *testing.T, ctx context.Context, rdir string, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(daemonPID(t, rdir), sig); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, fmt.Sprintf("%s to end on %v", rdir, sig), func() bool {
		locked, err := daemon.Locked(rdir)
		return err == nil && !locked
	})
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// TestTestnetTimeoutMustBePositive: a zero or negative --timeout is refused
// before anything starts (for down, a zero timeout would send SIGKILL at
// once).
func TestTestnetTimeoutMustBePositive(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"testnet", "down", "--dir", dir, "--timeout", "0s"},
		{"testnet", "down", "--dir", dir, "--timeout", "-1s"},
		// --providers 0 makes an up that took the timeout fail too,
		// rather than start daemons.
		{"testnet", "up", "--dir", dir, "--providers", "0", "--timeout", "0s"},
	} {
		root := newRoot()
		root.SetArgs(args)
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), "--timeout") || !strings.Contains(err.Error(), "positive") {
			t.Errorf("dsn %s = %v, want an error asking for a positive --timeout", strings.Join(args, " "), err)
		}
	}
}
