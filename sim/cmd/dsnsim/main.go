// Command dsnsim runs the durability simulation of package sim and
// prints its report as a table.
package main

import (
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/dsn-project/dsn/sim"
)

func main() {
	var c sim.Config
	flag.IntVar(&c.Providers, "providers", 2000, "providers in the network (constant: each one that leaves is replaced)")
	flag.IntVar(&c.Files, "files", 20000, "files stored, one segment each")
	flag.IntVar(&c.K, "k", 10, "data shards per segment")
	flag.IntVar(&c.M, "m", 4, "parity shards per segment")
	flag.IntVar(&c.RepairThreshold, "threshold", 0, "repair when healthy shards fall to this many (0: k+1)")
	flag.DurationVar(&c.Epoch, "epoch", 0, "audit epoch and time step (0: 1h)")
	flag.DurationVar(&c.Duration, "duration", 0, "simulated span (0: 8760h, one year)")
	flag.DurationVar(&c.MeanLifetime, "lifetime", sim.Year, "mean provider lifetime before leaving for good (0: never)")
	flag.Float64Var(&c.DailyOfflineRate, "offline-rate", 0.02, "chance per day that a provider goes offline")
	flag.DurationVar(&c.MeanOffline, "offline-mean", 0, "mean offline spell (0: 6h)")
	flag.IntVar(&c.DetectEpochs, "detect", 0, "missed audits in a row before a holder's shards count as gone (0: 3)")
	flag.IntVar(&c.Candidates, "candidates", 0, "random candidates drawn per shard placement (0: 16)")
	flag.Uint64Var(&c.Seed, "seed", 1, "random seed")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "dsnsim: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	r, err := sim.Run(c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dsnsim: %v\n", err)
		os.Exit(2)
	}
	c = r.Config
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	row := func(k string, format string, v ...any) { fmt.Fprintf(w, "%s\t"+format+"\n", append([]any{k}, v...)...) }
	row("k+m (threshold)", "%d+%d (%d)", c.K, c.M, c.RepairThreshold)
	row("providers, files", "%d, %d", c.Providers, c.Files)
	row("span, epoch", "%v, %v (%d epochs)", c.Duration, c.Epoch, r.Epochs)
	row("lifetime, offline/day, offline mean, detect", "%v, %g, %v, %d", c.MeanLifetime, c.DailyOfflineRate, c.MeanOffline, c.DetectEpochs)
	row("departures, offline spells", "%d, %d", r.Departures, r.OfflineSpells)
	row("files lost", "%d (%.1f per million)", r.FilesLost, r.FilesLostPerMillion)
	row("fewest surviving shards of a file", "%d", r.MinSurviving)
	row("repairs, shards repaired, deferred", "%d, %d, %d", r.Repairs, r.ShardsRepaired, r.DeferredRepairs)
	row("repair bytes per stored byte per year", "%.4f", r.RepairBytesPerStoredByte)
	row("repair bytes per data byte per year", "%.4f", r.RepairBytesPerDataByte)
	row("placement failures", "%d", r.PlacementFailures)
	row("load max/mean, Gini", "%.2f, %.3f", r.LoadMaxOverMean, r.LoadGini)
	w.Flush()
}
