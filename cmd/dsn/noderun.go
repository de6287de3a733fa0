package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsn-project/dsn/node/daemon"
)

func newNodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run this machine's node",
	}
	cmd.AddCommand(newNodeRunCmd())
	return cmd
}

type nodeRunFlags struct {
	repo      string
	listen    []string
	bootstrap []string
	capacity  sizeValue
	logLevel  string
	epoch     time.Duration
	// The ask: prices and collateral in nano-units.
	perMonth, perGiB, collateral uint64
}

func newNodeRunCmd() *cobra.Command {
	var f nodeRunFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the node of a repo until interrupted",
		Long: `run starts the node of a repo: it joins the network, keeps shards for others
when it has capacity, and serves the local HTTP API that dsn store, retrieve
and status use. It runs until SIGINT or SIGTERM. Flags override the repo's
config for this run only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := repoDir(f.repo)
			if err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			ov := daemon.Overrides{Listen: f.listen, Bootstrap: f.bootstrap}
			if cmd.Flags().Changed("capacity") {
				c := int64(f.capacity)
				ov.Capacity = &c
			}
			if cmd.Flags().Changed("epoch") {
				ov.Epoch = &f.epoch
			}
			if cmd.Flags().Changed("price-per-gib-month") {
				ov.PricePerGiBMonth = &f.perMonth
			}
			if cmd.Flags().Changed("price-per-gib") {
				ov.PricePerGiB = &f.perGiB
			}
			if cmd.Flags().Changed("collateral-per-gib") {
				ov.CollateralPerGiB = &f.collateral
			}
			out := cmd.OutOrStdout()
			return daemon.Run(cmd.Context(), dir, ov, daemon.RunOptions{
				Logger: log,
				Ready: func(d *daemon.Daemon) {
					s, err := d.Status(cmd.Context())
					if err != nil {
						return
					}
					fmt.Fprintf(out, "peer id %s\napi %s\n", s.PeerID, d.APIAddr())
					fmt.Fprintf(out, "listening on\n  %s\n", strings.Join(s.Addrs, "\n  "))
				},
			})
		},
	}
	fl := cmd.Flags()
	addRepoFlag(fl, &f.repo)
	fl.StringSliceVar(&f.listen, "listen", nil, "multiaddrs to listen on (replacing the config's)")
	fl.StringSliceVar(&f.bootstrap, "bootstrap", nil, "more bootstrap peers (multiaddrs ending in /p2p/<peer id>)")
	fl.Var(&f.capacity, "capacity", "space to keep shards for others (0: not a provider)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.DurationVar(&f.epoch, "epoch", 0, "how often to challenge the providers holding this node's files (default: the config's, 1h unless set)")
	fl.Uint64Var(&f.perMonth, "price-per-gib-month", 0, "the provider's ask: nano-units per GiB kept for 30 days (default: the config's, 10^9 unless set)")
	fl.Uint64Var(&f.perGiB, "price-per-gib", 0, "the provider's ask: nano-units per GiB served (default: the config's, 10^8 unless set)")
	fl.Uint64Var(&f.collateral, "collateral-per-gib", 0, "the provider's ask: nano-units of collateral staked per GiB (default: the config's, 2x10^9 unless set)")
	return cmd
}
