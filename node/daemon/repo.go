package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/dsn-project/dsn/internal/atomicfile"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// Names of the files and directories in a repo.
const (
	KeyFile   = "identity.key" // the node's libp2p private key
	ShardsDir = "shards"       // the shard store
	FilesDir  = "files"        // the owner's records of the files it stored
	PeersFile = "peers"        // peers remembered across runs
	// ReputationFile holds this node's view of the providers it audits
	// (market.Reputations).
	ReputationFile = "reputation"
	LockFile       = "repo.lock"   // held by the one process using the repo
	PIDFile        = "pid"         // the running daemon's process id
	APIFile        = api.AddrFile  // the running daemon's API address
	TokenFile      = api.TokenFile // the running daemon's API token
)

// Repo errors.
var (
	// ErrRepoExists is returned by Init when the directory already holds a
	// repo.
	ErrRepoExists = errors.New("repo already exists")
	// ErrNoRepo is returned by OpenRepo when the directory holds no repo.
	ErrNoRepo = errors.New("no repo (run dsn init)")
	// ErrRepoLocked is returned by OpenRepo when another process (a daemon,
	// or a command running a temporary node) is using the repo.
	ErrRepoLocked = errors.New("repo is in use by another process")
)

// DefaultRepoDir is $DSN_REPO, else ~/.dsn.
func DefaultRepoDir() (string, error) {
	if d := os.Getenv("DSN_REPO"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the default repo: %w (set DSN_REPO or pass --repo)", err)
	}
	return filepath.Join(home, ".dsn"), nil
}

// Init creates a repo in dir with the given config and a new identity, and
// returns the node's peer ID. It refuses a directory that already holds a
// repo; dir itself may exist (empty, or with unrelated files).
func Init(dir string, cfg Config) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return "", fmt.Errorf("init %s: %w", dir, ErrRepoExists)
	}
	if err := os.MkdirAll(filepath.Join(dir, ShardsDir), 0o700); err != nil {
		return "", fmt.Errorf("init %s: %w", dir, err)
	}
	id, err := newIdentity(filepath.Join(dir, KeyFile))
	if err != nil {
		return "", fmt.Errorf("init %s: identity: %w", dir, err)
	}
	// The config is written last: its presence is what makes dir a repo,
	// so an init that failed halfway can be run again, and keeps the
	// identity key it already made.
	if err := atomicfile.Write(filepath.Join(dir, ConfigFile), cfg.Marshal(), 0o600); err != nil {
		return "", fmt.Errorf("init %s: %w", dir, err)
	}
	return id, nil
}

// Repo is an open repo: its config is loaded and its lock held, so that no
// other process uses its shard store or identity at the same time.
type Repo struct {
	Dir    string
	Config Config
	lock   *os.File
}

// OpenRepo loads the repo in dir and takes its lock. It returns ErrNoRepo
// when dir holds no repo and ErrRepoLocked when another process has it.
func OpenRepo(dir string) (*Repo, error) {
	cfgPath := filepath.Join(dir, ConfigFile)
	if _, err := os.Stat(cfgPath); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open repo %s: %w", dir, ErrNoRepo)
	}
	lf, err := lock(filepath.Join(dir, LockFile))
	if err != nil {
		return nil, fmt.Errorf("open repo %s: %w", dir, err)
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("open repo: %w", err)
	}
	return &Repo{Dir: dir, Config: cfg, lock: lf}, nil
}

// Path returns the path of name inside the repo.
func (r *Repo) Path(name string) string { return filepath.Join(r.Dir, name) }

// Close releases the repo's lock.
func (r *Repo) Close() error {
	if r.lock == nil {
		return nil
	}
	err := r.lock.Close() // closing the descriptor drops the flock
	r.lock = nil
	return err
}

// lock takes an exclusive flock on path and records this process's id in
// it, so that a second process can say who holds it. The kernel drops the
// lock when the process dies, however it dies, so a killed daemon never
// leaves a repo locked.
func lock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w%s: stop its daemon, or use it through the daemon's API", ErrRepoLocked, holder)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// Locked reports whether some process holds the lock of the repo in dir.
func Locked(dir string) (bool, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, err
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, nil
}

// WriteConfig validates cfg and replaces the config of the repo in dir with
// it. The repo must exist and must not be in use.
func WriteConfig(dir string, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	r, err := OpenRepo(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := atomicfile.Write(r.Path(ConfigFile), cfg.Marshal(), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
