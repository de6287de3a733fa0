package main

import (
	"github.com/spf13/cobra"

	"github.com/dsn-project/dsn/sim"
)

func newSimCmd() *cobra.Command {
	var c sim.Config
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate durability under churn with the market's selection and repair",
		Long: `sim runs the market's reputation, selection and repair rules over thousands of
simulated providers that go offline and leave, hour by hour, and reports files
lost per million, repair traffic per stored byte and load balance
(docs/durability.md). It is deterministic for a seed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := sim.Run(c)
			if err != nil {
				return err
			}
			return r.WriteTable(cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&c.Providers, "providers", 2000, "providers in the network (constant: each one that leaves is replaced)")
	fl.IntVar(&c.Files, "files", 20000, "files stored, one segment each")
	fl.IntVar(&c.K, "k", 10, "data shards per segment")
	fl.IntVar(&c.M, "m", 4, "parity shards per segment")
	fl.IntVar(&c.RepairThreshold, "threshold", 0, "repair when healthy shards fall to this many (0: k+1)")
	fl.DurationVar(&c.Epoch, "epoch", 0, "audit epoch and time step (0: 1h)")
	fl.DurationVar(&c.Duration, "duration", 0, "simulated span (0: 8760h, one year)")
	fl.DurationVar(&c.MeanLifetime, "lifetime", sim.Year, "mean provider lifetime before leaving for good (0: never)")
	fl.Float64Var(&c.DailyOfflineRate, "offline-rate", 0.02, "chance per day that a provider goes offline")
	fl.DurationVar(&c.MeanOffline, "offline-mean", 0, "mean offline spell (0: 6h)")
	fl.IntVar(&c.DetectEpochs, "detect", 0, "missed audits in a row before a holder's shards count as gone (0: 3)")
	fl.IntVar(&c.Candidates, "candidates", 0, "random candidates drawn per shard placement (0: 16)")
	fl.Uint64Var(&c.Seed, "seed", 1, "random seed")
	return cmd
}
