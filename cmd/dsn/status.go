package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newStatusCmd() *cobra.Command {
	var repo string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running node's identity, peers and storage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dialDaemon(cmd.Context(), repo, "status")
			if err != nil {
				return err
			}
			s, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, s)
			}
			fmt.Fprintf(out, "peer id        %s\n", s.PeerID)
			fmt.Fprintf(out, "api            %s\n", c.Addr())
			fmt.Fprintf(out, "addresses      %s\n", strings.Join(s.Addrs, "\n               "))
			fmt.Fprintf(out, "peers          %d connected\n", len(s.Peers))
			fmt.Fprintf(out, "routing table  %d peers\n", s.RoutingTable)
			if s.Provider {
				fmt.Fprintf(out, "shards         %d held\n", s.Shards)
				fmt.Fprintf(out, "space          %s used, %s free of %s\n", formatBytes(s.Used), formatBytes(s.Free), formatBytes(s.Capacity))
			} else {
				fmt.Fprintln(out, "storage        not a provider")
			}
			fmt.Fprintf(out, "ledger         %d entries; checkpoints of %d other nodes kept\n", s.LedgerEntries, s.Witnessed)
			fs, err := c.Files(cmd.Context(), "")
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "dsn: status: files: %v\n", err)
			} else if len(fs.Files) > 0 {
				fmt.Fprintf(out, "files          %d stored by this node (shards whose latest audit passed):\n", len(fs.Files))
				for _, f := range fs.Files {
					fmt.Fprintf(out, "  %s  %s  %d/%d healthy\n", f.Manifest, formatBytes(f.Size), f.Healthy, len(f.Shards))
				}
			}
			for _, d := range s.Distrusted {
				fmt.Fprintf(out, "DISTRUSTED     %s\n", d)
			}
			return nil
		},
	}
	addRepoFlag(cmd.Flags(), &repo)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}
