package sim_test

import (
	"fmt"
	"time"

	"github.com/dsn-project/dsn/sim"
)

func ExampleRun() {
	r, err := sim.Run(sim.Config{
		Providers: 200, Files: 500, K: 4, M: 4,
		Duration:     30 * 24 * time.Hour,
		MeanLifetime: 180 * 24 * time.Hour, DailyOfflineRate: 0.02,
		Seed: 1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("lost %d of %d files; %d providers left, %d repairs\n",
		r.FilesLost, r.Config.Files, r.Departures, r.Repairs)
	// Output: lost 0 of 500 files; 33 providers left, 162 repairs
}
