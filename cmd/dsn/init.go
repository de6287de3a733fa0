package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dsn-project/dsn/node/daemon"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// addRepoFlag adds --repo to fl.
func addRepoFlag(fl *pflag.FlagSet, p *string) {
	fl.StringVar(p, "repo", "", "repo directory (default $DSN_REPO, else ~/.dsn)")
}

// repoDir resolves the --repo flag to an absolute directory.
func repoDir(flag string) (string, error) {
	dir := flag
	if dir == "" {
		d, err := daemon.DefaultRepoDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	return filepath.Abs(dir)
}

// dialDaemon connects to the daemon of the repo the --repo flag names, for
// the command op, which needs it running, and says how to start it if not.
func dialDaemon(ctx context.Context, flag, op string) (*api.Client, error) {
	dir, err := repoDir(flag)
	if err != nil {
		return nil, err
	}
	c, err := api.Dial(ctx, dir)
	if errors.Is(err, api.ErrNoDaemon) {
		return nil, fmt.Errorf("%s: %w (start it with: dsn node run --repo %s)", op, err, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return c, nil
}

type initFlags struct {
	repo      string
	listen    []string
	bootstrap []string
	capacity  sizeValue
	api       string
	mdns      bool
}

func newInitCmd() *cobra.Command {
	def := daemon.DefaultConfig()
	f := initFlags{listen: def.Listen, capacity: sizeValue(def.Capacity), api: def.API}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a node's repo: identity key, config, shard store",
		Long: `init creates the repo of a node: a new identity key, a config file with the
given settings, and the directories for the shard store and remembered peers.
It refuses a directory that already holds a repo. Settings can be changed
later by editing config.json in the repo.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := repoDir(f.repo)
			if err != nil {
				return err
			}
			cfg := daemon.Config{
				Listen:    f.listen,
				Bootstrap: f.bootstrap,
				Capacity:  int64(f.capacity),
				API:       f.api,
				MDNS:      f.mdns,
			}
			if cfg.Bootstrap == nil {
				cfg.Bootstrap = []string{}
			}
			id, err := daemon.Init(dir, cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "initialized repo %s\n", dir)
			if cfg.Capacity > 0 {
				fmt.Fprintf(out, "provider of %s\n", formatBytes(cfg.Capacity))
			} else {
				fmt.Fprintln(out, "not a provider (capacity 0)")
			}
			fmt.Fprintf(out, "peer id %s\n", id)
			return nil
		},
	}
	fl := cmd.Flags()
	addRepoFlag(fl, &f.repo)
	fl.StringSliceVar(&f.listen, "listen", f.listen, "multiaddrs to listen on")
	fl.StringSliceVar(&f.bootstrap, "bootstrap", nil, "multiaddrs (ending in /p2p/<peer id>) of peers to join the network through")
	fl.Var(&f.capacity, "capacity", "space to keep shards for others (0: not a provider)")
	fl.StringVar(&f.api, "api", f.api, "address of the local HTTP API (a loopback IP; port 0 picks one)")
	fl.BoolVar(&f.mdns, "mdns", false, "find peers on the local network")
	return cmd
}
