package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsn-project/dsn/node/daemon/testnet"
)

func newTestnetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Run a local network of node processes on 127.0.0.1",
	}
	cmd.AddCommand(newTestnetUpCmd(), newTestnetDownCmd())
	return cmd
}

func newTestnetUpCmd() *cobra.Command {
	var (
		providers int
		dir       string
		capacity  sizeValue = 1 << 30
		timeout   time.Duration
		logLevel  string
		epoch     time.Duration
		deals     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start N providers and a client node as separate processes",
		Long: `up starts N provider daemons and one client daemon (no capacity), each a
separate dsn process with its repo under DIR (DIR/node-<i>, DIR/client), on
127.0.0.1 with free ports, bootstrapped to each other. It returns once every
routing table is populated, and writes DIR/env with the line
DSN_REPO=DIR/client, so that after

    export $(cat DIR/env)

dsn store, retrieve and status use the client node. Running up again on a
stopped testnet restarts it with its data. Each daemon logs to daemon.log in
its repo.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return fmt.Errorf("testnet up: --timeout %v: want a positive duration", timeout)
			}
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("testnet: find the dsn binary: %w", err)
			}
			nodes, err := testnet.Up(cmd.Context(), testnet.Options{
				Providers: providers,
				Dir:       dir,
				Binary:    bin,
				Capacity:  int64(capacity),
				Timeout:   timeout,
				Log:       cmd.ErrOrStderr(),
				LogLevel:  logLevel,
				Epoch:     epoch,

				DealDuration: deals,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, n := range nodes {
				fmt.Fprintf(out, "%-8s pid %-7d api %-16s peer %s\n", n.Name, n.PID, n.API, n.Status.PeerID)
			}
			abs, _ := filepath.Abs(dir)
			fmt.Fprintf(out, "DSN_REPO=%s\n", filepath.Join(abs, testnet.ClientName))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&providers, "providers", 6, "number of provider nodes")
	fl.StringVar(&dir, "dir", "", "directory for the nodes' repos (required)")
	fl.Var(&capacity, "capacity", "space each provider keeps for shards")
	fl.DurationVar(&timeout, "timeout", time.Minute, "how long to wait for the network to form")
	fl.StringVar(&logLevel, "log-level", "info", "the daemons' log level: debug, info, warn or error")
	fl.DurationVar(&epoch, "epoch", 0, "how often the client audits the providers (default: the repos' own, 1h unless set)")
	fl.DurationVar(&deals, "deal-duration", 0, "how long the deals of new repos last (default 30 days; with --epoch, at least two epochs)")
	cmd.MarkFlagRequired("dir")
	return cmd
}

func newTestnetDownCmd() *cobra.Command {
	var (
		dir     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the nodes of a testnet (their repos are kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return fmt.Errorf("testnet down: --timeout %v: want a positive duration (SIGKILL at once leaves no time to shut down cleanly)", timeout)
			}
			stopped, err := testnet.Down(cmd.Context(), dir, timeout)
			for _, n := range stopped {
				fmt.Fprintf(cmd.OutOrStdout(), "stopped %s\n", n)
			}
			if err == nil && len(stopped) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no node of %s was running\n", dir)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the testnet's directory (required)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait after SIGTERM before SIGKILL")
	cmd.MarkFlagRequired("dir")
	return cmd
}
