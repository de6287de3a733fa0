package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
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

// TestTestnetEndToEnd runs what a new user would: a testnet of six provider
// processes, a store through the client node, two providers holding shards
// killed with SIGKILL, and a retrieval compared byte for byte.
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

	out := dsnCmd(t, ctx, bin, nil, "testnet", "up", "--providers", "6", "--dir", dir, "--capacity", "256MiB")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	envLine := lines[len(lines)-1]
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil || strings.TrimSpace(string(env)) != envLine || envLine != "DSN_REPO="+filepath.Join(dir, "client") {
		t.Fatalf("env file = %q, %v; testnet up printed %q; want DSN_REPO=%s", env, err, envLine, filepath.Join(dir, "client"))
	}

	data := make([]byte, 5<<20+123)
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
	for i := 1; i <= 6 && len(killed) < 2; i++ {
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
		b, err := os.ReadFile(filepath.Join(rdir, daemon.PIDFile))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
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

	out = dsnCmd(t, ctx, bin, nil, "testnet", "down", "--dir", dir)
	if n := strings.Count(out, "stopped "); n != 5 {
		t.Errorf("testnet down printed %q, want 5 nodes stopped (4 providers and the client)", out)
	}
	for _, name := range []string{"node-1", "node-3", "client"} {
		if locked, _ := daemon.Locked(filepath.Join(dir, name)); locked {
			t.Errorf("%s still running after testnet down", name)
		}
	}
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
