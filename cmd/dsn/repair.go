package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node/daemon/api"
)

func newRepairCmd() *cobra.Command {
	var repo string
	var asJSON, printCap bool
	cmd := &cobra.Command{
		Use:   "repair REF|CAP",
		Short: "Audit a file now, rebuild every shard that did not pass, and publish the new manifest version",
		Long: `repair challenges the provider of every shard of a file, then rebuilds each
shard that failed or missed its challenge from any k of its segment's shards,
places it on another provider by the placement rule, with tags and a deal as
in a store, and publishes the repaired manifest as a new version signed with
the file's updater key. The reference does not change: retrieval follows the
newest version.

REF is the reference of a file the repo's node stored. CAP is a repair
capability (dsn-repair:<CID>#<key>): with it any node can repair the file
without being able to read it. repair --cap REF prints the capability to
hand to a repairer: for a private file it is derived from the reference, for
a public file the node that stored it kept it.

The daemon does this by itself after every epoch's audits for segments down to
k+1 healthy shards (docs/durability.md); repair does it now, for any loss. It
needs the repo's daemon.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if printCap && !manifest.IsRepairCap(args[0]) {
				// A private file's capability needs no daemon.
				if ref, err := manifest.ParseReference(args[0]); err == nil {
					if rc, ok := ref.RepairCap(); ok {
						fmt.Fprintln(out, rc)
						return nil
					}
				}
			}
			c, err := dialDaemon(cmd.Context(), repo, "repair")
			if err != nil {
				return err
			}
			res, err := c.Repair(cmd.Context(), api.RepairRequest{Reference: args[0], PrintCap: printCap})
			if err != nil {
				return err
			}
			if printCap {
				fmt.Fprintln(out, res.Cap)
				return nil
			}
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
			if res.Version > 0 {
				fmt.Fprintf(out, "published manifest version %d\n", res.Version)
			}
			return nil
		},
	}
	addRepoFlag(cmd.Flags(), &repo)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().BoolVar(&printCap, "cap", false, "print the file's repair capability instead of repairing")
	return cmd
}
