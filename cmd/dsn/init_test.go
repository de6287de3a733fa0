package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsn-project/dsn/node/daemon"
	"github.com/dsn-project/dsn/node/daemon/api"
)

func TestInitCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	out, err := run(t, "init", "--repo", dir, "--capacity", "2GiB", "--listen", "/ip4/127.0.0.1/tcp/0")
	if err != nil {
		t.Fatalf("dsn init: %v\n%s", err, out)
	}
	if !strings.Contains(out, "peer id 12D3Koo") || !strings.Contains(out, "provider of 2 GiB") {
		t.Errorf("dsn init printed %q, want the peer id and the capacity", out)
	}
	cfg, err := daemon.LoadConfig(filepath.Join(dir, daemon.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Capacity != 2<<30 || len(cfg.Listen) != 1 || cfg.API != "127.0.0.1:0" {
		t.Errorf("config after dsn init = %+v", cfg)
	}
	if _, err := run(t, "init", "--repo", dir); !errors.Is(err, daemon.ErrRepoExists) {
		t.Errorf("second dsn init = %v, want ErrRepoExists", err)
	}
}

func TestInitDefaultRepoFromEnv(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "envrepo")
	t.Setenv("DSN_REPO", dir)
	if out, err := run(t, "init", "--capacity", "0"); err != nil || !strings.Contains(out, dir) {
		t.Fatalf("dsn init with DSN_REPO = %q, %v; want a repo in %s", out, err, dir)
	}
}

func TestCommandsBadInput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := run(t, "init", "--repo", dir, "--capacity", "0", "--listen", "/ip4/127.0.0.1/tcp/0"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"init", "--repo", t.TempDir(), "--api", "0.0.0.0:1"}, "loopback"},
		{[]string{"init", "--repo", t.TempDir(), "--bootstrap", "/ip4/1.2.3.4/tcp/1"}, "/p2p/"},
		{[]string{"init", "--repo", t.TempDir(), "--capacity", "lots"}, "size"},
		{[]string{"status", "--repo", dir}, "no daemon running"},
		{[]string{"store", "--repo", dir, "--k", "0", "x"}, "k=0"},
		{[]string{"store", "--repo", dir, filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"retrieve", "--repo", dir, "dsn:nope", "-o", "x"}, "reference"},
		{[]string{"retrieve", "--repo", dir, "dsn:bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi"}, "output"},
		{[]string{"node", "run", "--repo", filepath.Join(dir, "none")}, "no repo"},
		{[]string{"node", "run", "--repo", dir, "--log-level", "loud"}, "log-level"},
		{[]string{"testnet", "up", "--providers", "0", "--dir", t.TempDir()}, "out of range"},
	}
	for _, tt := range tests {
		out, err := run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("dsn %s = %v (%q), want an error mentioning %q", strings.Join(tt.args, " "), err, out, tt.want)
		}
	}
}

func TestStatusNoDaemonIsErrNoDaemon(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := run(t, "init", "--repo", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "status", "--repo", dir); !errors.Is(err, api.ErrNoDaemon) {
		t.Errorf("dsn status without a daemon = %v, want ErrNoDaemon", err)
	}
}
