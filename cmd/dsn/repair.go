package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dsn-project/dsn/node/daemon/api"
)

func newRepairCmd() *cobra.Command {
	var repo string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "repair REF",
		Short: "Audit a file now and rebuild every shard that did not pass",
		Long: `repair challenges the provider of every shard of a file the repo's node
stored, then rebuilds each shard that failed or missed its challenge from any k
of its segment's shards and places it on another provider by the placement
rule, with tags and a deal as in a store. The reference does not change.

The daemon does this by itself after every epoch's audits for segments down to
k+1 healthy shards (docs/market.md); repair does it now, for any loss. It needs
the repo's daemon.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := repoDir(repo)
			if err != nil {
				return err
			}
			c, err := api.Dial(cmd.Context(), dir)
			if errors.Is(err, api.ErrNoDaemon) {
				return fmt.Errorf("repair: %w (start it with: dsn node run --repo %s)", err, dir)
			}
			if err != nil {
				return fmt.Errorf("repair: %w", err)
			}
			res, err := c.Repair(cmd.Context(), api.RepairRequest{Reference: args[0]})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, res)
			}
			if len(res.Segments) == 0 {
				fmt.Fprintln(out, "every shard passed its audit: nothing to repair")
				return nil
			}
			for _, s := range res.Segments {
				for i, j := range s.Rebuilt {
					fmt.Fprintf(out, "segment %d: rebuilt shard %d on %s (%d of the segment's shards had passed)\n", s.Segment, j, shortPeer(s.Placed[i]), s.Healthy)
				}
			}
			return nil
		},
	}
	addRepoFlag(cmd.Flags(), &repo)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
