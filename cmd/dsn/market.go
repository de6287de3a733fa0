package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newMarketCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "market", Short: "What providers offer"}
	var repo string
	var asJSON bool
	asks := &cobra.Command{
		Use:   "asks",
		Short: "List the standing asks of the providers the node has heard from",
		Long: `asks lists the signed offers providers publish by gossip: prices in nano-units
per GiB kept for 30 days and per GiB served, collateral per GiB, free space, and
until when the offer stands. A store with --max-price passes over providers that
ask more or have no standing ask. It needs the repo's daemon.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dialDaemon(cmd.Context(), repo, "market asks")
			if err != nil {
				return err
			}
			as, err := c.MarketAsks(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, as)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PROVIDER\tPRICE/GIB-MONTH\tPRICE/GIB\tCOLLATERAL/GIB\tFREE\tVALID UNTIL")
			for _, a := range as.Asks {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", shortPeer(a.Provider), a.PricePerGiBMonth, a.PricePerGiB, a.CollateralPerGiB, formatBytes(int64(a.FreeCapacity)), a.ValidUntil)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d asks\n", len(as.Asks))
			return nil
		},
	}
	addRepoFlag(asks.Flags(), &repo)
	asks.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.AddCommand(asks)
	return cmd
}
