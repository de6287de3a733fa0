package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitAndOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	cfg := DefaultConfig()
	id, err := Init(dir, cfg)
	if err != nil || id == "" {
		t.Fatalf("Init = %q, %v; want a peer id", id, err)
	}
	for _, f := range []string{ConfigFile, KeyFile, ShardsDir} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("after Init: %v", err)
		}
	}
	if _, err := Init(dir, cfg); !errors.Is(err, ErrRepoExists) {
		t.Errorf("Init over a repo = %v, want ErrRepoExists", err)
	}

	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatalf("OpenRepo: %v", err)
	}
	if r.Config.Capacity != cfg.Capacity || len(r.Config.Listen) != len(cfg.Listen) {
		t.Errorf("OpenRepo config = %+v, want %+v", r.Config, cfg)
	}
	if locked, err := Locked(dir); !locked || err != nil {
		t.Errorf("Locked(open repo) = %v, %v; want true", locked, err)
	}
	_, err = OpenRepo(dir)
	if !errors.Is(err, ErrRepoLocked) || !strings.Contains(err.Error(), "pid") {
		t.Errorf("second OpenRepo = %v, want ErrRepoLocked naming the holder's pid", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if locked, err := Locked(dir); locked || err != nil {
		t.Errorf("Locked(closed repo) = %v, %v; want false", locked, err)
	}
	r2, err := OpenRepo(dir)
	if err != nil {
		t.Fatalf("OpenRepo after Close: %v", err)
	}
	r2.Close()
}

func TestOpenRepoErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := OpenRepo(empty); !errors.Is(err, ErrNoRepo) {
		t.Errorf("OpenRepo(empty dir) = %v, want ErrNoRepo", err)
	}
	if _, err := OpenRepo(filepath.Join(empty, "missing")); !errors.Is(err, ErrNoRepo) {
		t.Errorf("OpenRepo(missing dir) = %v, want ErrNoRepo", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, ConfigFile), []byte(`{"capacity": -1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRepo(bad); !errors.Is(err, ErrBadConfig) {
		t.Errorf("OpenRepo(bad config) = %v, want ErrBadConfig", err)
	}
	if locked, _ := Locked(bad); locked {
		t.Error("a failed OpenRepo left the repo locked")
	}
}

func TestInitRejectsBadConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	cfg := DefaultConfig()
	cfg.API = "0.0.0.0:5001"
	if _, err := Init(dir, cfg); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("Init with a public API address = %v, want ErrBadConfig", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused Init created %s", dir)
	}
}

func TestDefaultRepoDir(t *testing.T) {
	t.Setenv("DSN_REPO", "/somewhere/repo")
	if d, err := DefaultRepoDir(); d != "/somewhere/repo" || err != nil {
		t.Errorf("DefaultRepoDir with DSN_REPO = %q, %v", d, err)
	}
	t.Setenv("DSN_REPO", "")
	t.Setenv("HOME", "/home/u")
	if d, err := DefaultRepoDir(); d != "/home/u/.dsn" || err != nil {
		t.Errorf("DefaultRepoDir without DSN_REPO = %q, %v; want /home/u/.dsn", d, err)
	}
}
