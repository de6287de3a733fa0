package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsn-project/dsn/internal/regfile"
	"github.com/dsn-project/dsn/node"
	"github.com/dsn-project/dsn/node/daemon"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// How long a temporary node waits for peers before it starts work anyway.
const sessionPeerWait = 30 * time.Second

// connect finds the running daemon of the repo in dir, or, when none runs,
// starts a temporary node from the repo for this one command. Exactly one
// of the client and the session is returned; the caller closes the session.
func connect(cmd *cobra.Command, dir string) (*api.Client, *daemon.Session, error) {
	c, err := api.Dial(cmd.Context(), dir)
	if err == nil {
		return c, nil, nil
	}
	if !errors.Is(err, api.ErrNoDaemon) {
		return nil, nil, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "no daemon running for %s; starting a temporary node\n", dir)
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := daemon.OpenSession(cmd.Context(), dir, daemon.Overrides{}, log)
	if err != nil {
		return nil, nil, err
	}
	return nil, s, nil
}

type storeFlags struct {
	repo     string
	k, m     int
	public   bool
	maxPrice uint64
}

func newStoreCmd() *cobra.Command {
	f := storeFlags{k: node.DefaultK, m: node.DefaultM}
	cmd := &cobra.Command{
		Use:   "store FILE",
		Short: "Store a file on the network and print its reference",
		Long: `store encrypts a file (unless --public), erasure-codes it into k data and m
parity shards per segment, and places the shards on distinct providers. Any m
of them can be lost. The reference printed as the last line of the output is
all that is needed to retrieve the file: keep it, it holds the file's key.
FILE "-" reads standard input.

store goes through the repo's daemon when one runs, else it starts a
temporary node from the repo for the one command.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runStore(cmd, f, args[0]) },
	}
	fl := cmd.Flags()
	addRepoFlag(fl, &f.repo)
	fl.IntVar(&f.k, "k", f.k, "data shards per segment")
	fl.IntVar(&f.m, "m", f.m, "parity shards per segment (how many providers may be lost)")
	fl.BoolVar(&f.public, "public", false, "store without encryption (the reference has no key)")
	fl.Uint64Var(&f.maxPrice, "max-price", 0, "most to pay per GiB kept for 30 days, in nano-units; providers asking more, or without a standing ask, are passed over (0: the repo's max_price_per_gib_month, or no limit)")
	return cmd
}

func runStore(cmd *cobra.Command, f storeFlags, path string) error {
	if err := node.CheckKM(f.k, f.m); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	dir, err := repoDir(f.repo)
	if err != nil {
		return err
	}
	var in io.Reader = cmd.InOrStdin()
	size := int64(-1)
	name := "standard input"
	if path != "-" {
		// Opened without blocking on a FIFO: only regular files are
		// stored by path (standard input takes the rest, with "-").
		file, fsize, err := regfile.Open(path)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		defer file.Close()
		in, size, name = file, fsize, path
	}

	c, s, err := connect(cmd, dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	bar := newProgress(cmd, size, "storing")
	// The bar shows the part of the file whose shards providers have
	// acknowledged: k/(k+m) of the shard bytes, as parity adds m/k.
	safe := func(stored int64) {
		bar.set(min(stored*int64(f.k)/int64(f.k+f.m), max(size, 0)))
	}
	var res *api.StoreResult
	if c != nil {
		opts := api.StoreOptions{K: f.k, M: f.m, Public: f.public, MaxPrice: f.maxPrice}
		report := func(p api.Progress) { safe(p.Stored) }
		if file, ok := in.(*os.File); ok && path != "-" {
			// The daemon reads the file itself, which spares copying every
			// byte through the API; a daemon running as another user may
			// not be allowed to, and then the bytes are sent.
			var abs string
			if abs, err = filepath.Abs(path); err == nil {
				res, err = c.StoreFile(cmd.Context(), abs, opts, report)
			}
			var re *api.RemoteError
			if errors.As(err, &re) && re.Code == api.CodeUnreadable {
				res, err = c.Store(cmd.Context(), file, size, opts, report)
			}
		} else {
			res, err = c.Store(cmd.Context(), in, size, opts, report)
		}
	} else {
		res, err = storeInSession(cmd.Context(), s, in, f, safe)
		if cerr := s.Close(); err == nil && cerr != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: closing the temporary node: %v\n", cerr)
		}
	}
	bar.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "stored %s: %s in %d segment(s), k=%d m=%d, %s on providers; root %s\n",
		name, formatBytes(res.Size), res.Segments, res.K, res.M, formatBytes(res.Stored), res.Root)
	fmt.Fprintln(cmd.OutOrStdout(), res.Reference)
	return nil
}

// storeInSession stores through a temporary node; progress is given the
// shard bytes acknowledged so far.
func storeInSession(ctx context.Context, s *daemon.Session, in io.Reader, f storeFlags, progress func(stored int64)) (*api.StoreResult, error) {
	if _, err := s.WaitForPeers(ctx, f.k+f.m, sessionPeerWait); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	r, err := s.Store(ctx, in, node.StoreOptions{K: f.k, M: f.m, Public: f.public, MaxPrice: f.maxPrice,
		Progress: func(_, stored int64) { progress(stored) }})
	if err != nil {
		return nil, err
	}
	m := r.Manifest
	return &api.StoreResult{Reference: r.Reference.String(), Root: m.Root.String(), Size: m.Size,
		Segments: len(m.Segments), K: m.K, M: m.M, Stored: r.Stored}, nil
}
