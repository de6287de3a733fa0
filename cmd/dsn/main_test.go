package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// run executes the dsn command line in-process and returns what it printed.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRoot()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCIDMatchesIPFSTooling(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 3<<20+7)
	for i := range big {
		big[i] = byte(i % 251)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi"},
		{"hello", []byte("hello world\n"), "bafkr4ig4ljhnxasawambeqcsymycobuw7ftxdjr3iusquxax2maa5artku"},
		{"3MiB+7", big, "bafyb4ihqk54vdsrp25mijxluxwkmpsju7vwmb5zs6exspfkj4vdoctejvu"},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, tt.data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := run(t, "cid", path)
		if err != nil || strings.TrimSpace(out) != tt.want {
			t.Errorf("dsn cid %s = %q, %v; want %s", tt.name, out, err, tt.want)
		}
	}
}

func TestCIDMissingFile(t *testing.T) {
	_, err := run(t, "cid", filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dsn cid on a missing file = %v, want a not-exist error", err)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("stores and retrieves on disk")
	}
	out, err := run(t, "demo", "--size", "5MiB", "--providers", "7")
	if err != nil {
		t.Fatalf("dsn demo: %v\n%s", err, out)
	}
	for _, want := range []string{"started 7 providers", "stored generated data (5 MiB)", "took 2 providers holding shards off the network", "root CID verified", "OK: the retrieved file is byte for byte the original"} {
		if !strings.Contains(out, want) {
			t.Errorf("dsn demo output lacks %q:\n%s", want, out)
		}
	}
	// Every shard proven with both schemes, then exactly the corrupted
	// one caught by both.
	for _, re := range []string{
		`audit \(compact proofs, 6.3 KiB each.*\): 6 of 6 shards proven; every provider holds its shards`,
		`audit \(merkle proofs, .*\): 6 of 6 shards proven; every provider holds its shards`,
		`audit \(compact proofs, .*\): 5 of 6 shards proven; caught:\n    0/0 at \S+: fail`,
		`audit \(merkle proofs, .*\): 5 of 6 shards proven; caught:\n    0/0 at \S+: fail`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("dsn demo output does not match %q:\n%s", re, out)
		}
	}
	if !regexp.MustCompile(`repair: [1-9]\d* shards of [1-9]\d* segments rebuilt`).MatchString(out) {
		t.Errorf("dsn demo shows no repair:\n%s", out)
	}
	if !strings.Contains(out, "published a new manifest version with the new holders") {
		t.Errorf("dsn demo publishes no manifest version after its repair:\n%s", out)
	}
	// Both epochs settled, and every provider's ledger shows what it
	// earned and verifies; the caught provider paid a penalty.
	if n := strings.Count(out, "settled epoch"); n != 2 {
		t.Errorf("dsn demo settled %d epochs, want 2:\n%s", n, out)
	}
	rows := regexp.MustCompile(`(?m)^\s+(\S+)\s+(\d+)\s+(\d+)\s+\S+ \S+\s+(\d+)\s+(\d+)\s+(\S+)\s*$`).FindAllStringSubmatch(out, -1)
	if len(rows) != 7 {
		t.Fatalf("dsn demo balance table has %d provider rows, want 7:\n%s", len(rows), out)
	}
	var space, penalties int
	for _, r := range rows {
		if r[6] != "yes" {
			t.Errorf("ledger of %s does not verify: %s", r[1], r[6])
		}
		v, _ := strconv.Atoi(r[3])
		space += v
		p, _ := strconv.Atoi(r[5])
		penalties += p
	}
	if space == 0 || penalties == 0 {
		t.Errorf("providers earned %d for space and paid %d in penalties, want both > 0:\n%s", space, penalties, out)
	}
}

func TestDemoWithFile(t *testing.T) {
	if testing.Short() {
		t.Skip("stores and retrieves on disk")
	}
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("hello world\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "demo", "--file", path, "--providers", "6", "--public")
	if err != nil {
		t.Fatalf("dsn demo --file: %v\n%s", err, out)
	}
	if !strings.Contains(out, "stored notes.txt (12 B)") || !strings.Contains(out, "bafkr4ig4ljhnxasawambeqcsymycobuw7ftxdjr3iusquxax2maa5artku") {
		t.Errorf("dsn demo --file output:\n%s", out)
	}
}

func TestDemoBadInput(t *testing.T) {
	emptyFile := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--file", "/nonexistent/file"}, "no such file"},
		{[]string{"demo", "--file", os.TempDir()}, "not a regular file"},
		{[]string{"demo", "--providers", "5"}, "5 providers cannot hold k+m=6"},
		{[]string{"demo", "--k", "0"}, "k=0"},
		{[]string{"demo", "--m", "300", "--providers", "400"}, "k+m <= 256"},
		{[]string{"demo", "--size", "lots"}, "size"},
		{[]string{"demo", "--size", "0"}, "is empty"},
		{[]string{"demo", "--file", emptyFile}, "is empty"},
	}
	for _, tt := range tests {
		_, err := run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("dsn %v = %v, want an error mentioning %q", tt.args, err, tt.want)
		}
	}
}

func TestSim(t *testing.T) {
	args := []string{"sim", "--providers", "300", "--files", "500", "--k", "4", "--m", "2", "--duration", "720h", "--lifetime", "720h", "--seed", "3"}
	a, err := run(t, args...)
	if err != nil {
		t.Fatalf("dsn sim: %v\n%s", err, a)
	}
	b, _ := run(t, args...)
	if a != b {
		t.Errorf("dsn sim is not deterministic for a seed:\n%s\n%s", a, b)
	}
	for _, want := range []string{"4+2 (5)", "files lost", "repair bytes per stored byte per year", "load max/mean"} {
		if !strings.Contains(a, want) {
			t.Errorf("dsn sim output lacks %q:\n%s", want, a)
		}
	}
	if _, err := run(t, "sim", "--k", "0"); err == nil {
		t.Error("dsn sim --k 0 succeeded")
	}
}
