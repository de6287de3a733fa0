package sim

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes the report for people, two columns.
func (r Report) WriteTable(out io.Writer) error {
	c := r.Config
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
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
	return w.Flush()
}
