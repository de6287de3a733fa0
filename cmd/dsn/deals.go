package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newDealsCmd() *cobra.Command {
	var repo string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "deals",
		Short: "List the node's deals: one per shard it stored or keeps",
		Long: `deals lists the deals in the node's ledger: the shard, the client and
provider, the prices (nano-units per GiB kept for 30 days and per GiB served),
the provider's collateral, when the deal ends, and its status from the ledger:
accepted (countersigned, not proven yet), active (an audit passed), pending
(a renewal not started yet), renewed, expired, cancelled (the shard moved
elsewhere) or failed (audits failed or missed three times in a row; the
collateral went to the client). It needs the repo's daemon.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dialDaemon(cmd.Context(), repo, "deals")
			if err != nil {
				return err
			}
			ds, err := c.Deals(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, ds)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SHARD\tSIZE\tCLIENT\tPROVIDER\tPRICE/GIB-MONTH\tPRICE/GIB\tCOLLATERAL\tEND\tSTATUS")
			for _, d := range ds.Deals {
				status := d.Status
				if d.Failures > 0 && (status == "active" || status == "accepted") {
					status += fmt.Sprintf(" (%d failed in a row)", d.Failures)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", d.Shard[:12], formatBytes(int64(d.Size)), shortPeer(d.Client), shortPeer(d.Provider),
					d.PricePerGiBMonth, d.PricePerGiB, d.Collateral, d.End, status)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d deals\n", len(ds.Deals))
			return nil
		},
	}
	addRepoFlag(cmd.Flags(), &repo)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
