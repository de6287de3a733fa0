package sim

import (
	"errors"
	"testing"
	"time"

	"github.com/dsn-project/dsn/market"
)

// small is a network that a test runs in a fraction of a second.
func small() Config {
	return Config{
		Providers: 300, Files: 1000, K: 4, M: 4,
		Duration: 60 * 24 * time.Hour, MeanLifetime: 90 * 24 * time.Hour,
		DailyOfflineRate: 0.05, Seed: 7,
	}
}

func TestDeterministic(t *testing.T) {
	a, err := Run(small())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(small())
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("Run twice with seed 7:\n%+v\n%+v", a, b)
	}
	c := small()
	c.Seed = 8
	d, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if d.Departures == a.Departures && d.OfflineSpells == a.OfflineSpells && d.RepairTransfers == a.RepairTransfers {
		t.Errorf("seeds 7 and 8 gave the same churn and repairs: %+v", d)
	}
	if a.Repairs == 0 || a.Departures == 0 {
		t.Errorf("Run(small) = %+v, want churn and repairs", a)
	}
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*Config)
		check func(*testing.T, Report)
	}{
		{"no churn", func(c *Config) { c.MeanLifetime, c.DailyOfflineRate = 0, 0 },
			func(t *testing.T, r Report) {
				if r.FilesLost != 0 || r.Repairs != 0 || r.RepairTransfers != 0 || r.Departures != 0 || r.OfflineSpells != 0 {
					t.Errorf("no churn: lost %d, repairs %d, transfers %d, departures %d, offline %d; want all 0",
						r.FilesLost, r.Repairs, r.RepairTransfers, r.Departures, r.OfflineSpells)
				}
				if r.MinSurviving != 8 {
					t.Errorf("no churn: MinSurviving = %d, want 8", r.MinSurviving)
				}
				// 1000 files × 8 shards over 300 providers: about 27 each.
				if r.LoadMaxOverMean < 1 || r.LoadMaxOverMean > 2 || r.LoadGini > 0.2 {
					t.Errorf("no churn: load max/mean %.2f, Gini %.3f; want a near-even spread", r.LoadMaxOverMean, r.LoadGini)
				}
			}},
		{"offline only, never repair early", func(c *Config) { c.MeanLifetime, c.RepairThreshold = 0, 4 },
			func(t *testing.T, r Report) {
				// Nobody leaves, so no shard is lost for good.
				if r.FilesLost != 0 || r.Departures != 0 || r.MinSurviving != 8 {
					t.Errorf("offline only: lost %d, departures %d, MinSurviving %d; want 0, 0, 8", r.FilesLost, r.Departures, r.MinSurviving)
				}
				if r.OfflineSpells == 0 {
					t.Errorf("offline only: no offline spells at a 5%% daily rate")
				}
			}},
		{"extreme churn, no parity", func(c *Config) { c.M, c.MeanLifetime = 0, 30*24*time.Hour },
			func(t *testing.T, r Report) {
				// Each file has 4 shards, each holder leaves within 60 days
				// with chance 1-e^-2: nearly every file is lost.
				if r.FilesLost < 900 {
					t.Errorf("m=0, 30-day lifetimes: lost %d of 1000, want at least 900", r.FilesLost)
				}
				if r.Repairs != 0 {
					t.Errorf("m=0: %d repairs, want 0 (threshold k never leaves k shards to rebuild from)", r.Repairs)
				}
				if want := float64(r.FilesLost) * 1000; r.FilesLostPerMillion != want {
					t.Errorf("FilesLostPerMillion = %v, want %v", r.FilesLostPerMillion, want)
				}
			}},
		{"parity and repair keep files", func(c *Config) {},
			func(t *testing.T, r Report) {
				if r.FilesLost != 0 {
					t.Errorf("4+4, 90-day lifetimes, threshold 5: lost %d files, want 0", r.FilesLost)
				}
				if r.MinSurviving < 4 {
					t.Errorf("MinSurviving = %d with no loss, want >= k", r.MinSurviving)
				}
				// New providers fill up only through repairs: the spread
				// is uneven but no one holds a large share.
				if r.LoadGini <= 0 || r.LoadGini > 0.7 || r.LoadMaxOverMean > 5 {
					t.Errorf("load max/mean %.2f, Gini %.3f; want uneven but bounded", r.LoadMaxOverMean, r.LoadGini)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := small()
			tt.cfg(&c)
			r, err := Run(c)
			if err != nil {
				t.Fatalf("Run(%+v): %v", c, err)
			}
			tt.check(t, r)
		})
	}
}

// TestThreshold compares repairing at the first missing shard (k+m),
// the default (k+1) and at the last moment (k).
func TestThreshold(t *testing.T) {
	run := func(thr int) Report {
		c := small()
		c.MeanLifetime = 20 * 24 * time.Hour
		c.RepairThreshold = thr
		r, err := Run(c)
		if err != nil {
			t.Fatalf("Run(threshold %d): %v", thr, err)
		}
		return r
	}
	eager, def, lazy := run(8), run(5), run(4)
	if eager.FilesLost != 0 {
		t.Errorf("threshold k+m: lost %d files, want 0", eager.FilesLost)
	}
	if !(lazy.FilesLost > def.FilesLost && def.FilesLost >= eager.FilesLost) {
		t.Errorf("files lost at thresholds k, k+1, k+m = %d, %d, %d; want decreasing, k the worst", lazy.FilesLost, def.FilesLost, eager.FilesLost)
	}
	if !(eager.RepairTransfers > def.RepairTransfers) {
		t.Errorf("repair transfers at thresholds k+1, k+m = %d, %d; want eager repair to cost more", def.RepairTransfers, eager.RepairTransfers)
	}
	if !(eager.ShardsRepaired > 0 && float64(eager.RepairTransfers)/float64(eager.ShardsRepaired) > float64(def.RepairTransfers)/float64(def.ShardsRepaired)) {
		t.Errorf("transfers per shard repaired at k+1, k+m = %.2f, %.2f; want eager repair dearer per shard",
			float64(def.RepairTransfers)/float64(def.ShardsRepaired), float64(eager.RepairTransfers)/float64(eager.ShardsRepaired))
	}
}

// TestBandwidthGrowsWithChurn: shorter lifetimes, more repair traffic.
func TestBandwidthGrowsWithChurn(t *testing.T) {
	prev := -1.0
	for _, days := range []int{720, 180, 45} {
		c := small()
		c.MeanLifetime = time.Duration(days) * 24 * time.Hour
		r, err := Run(c)
		if err != nil {
			t.Fatal(err)
		}
		if !(r.RepairBytesPerStoredByte > prev) {
			t.Errorf("lifetime %d days: repair bytes per stored byte %.3f, want more than %.3f at the longer lifetime", days, r.RepairBytesPerStoredByte, prev)
		}
		prev = r.RepairBytesPerStoredByte
	}
}

// TestVetting: when newcomers never get vetted, the one unvetted place
// per segment that the default limits allow cannot absorb the repairs
// once the first providers are gone, and shards go unplaced; allowing
// k+m unvetted providers places them all.
func TestVetting(t *testing.T) {
	for _, tt := range []struct {
		maxUnvetted int
		failures    bool
	}{{1, true}, {8, false}} {
		c := small()
		c.Files, c.Duration, c.MeanLifetime = 200, 20*24*time.Hour, 4*24*time.Hour
		c.Reputation = market.DefaultReputation
		c.Reputation.VettingAudits = 1 << 40
		c.Limits = market.ClientLimits{MinScore: market.DefaultMinScore, MaxUnvetted: tt.maxUnvetted}
		r, err := Run(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.PlacementFailures > 0; got != tt.failures {
			t.Errorf("no vetting, MaxUnvetted %d: PlacementFailures = %d, want failures %v", tt.maxUnvetted, r.PlacementFailures, tt.failures)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
	}{
		{"k 0", func(c *Config) { c.K = 0 }},
		{"m negative", func(c *Config) { c.M = -1 }},
		{"too wide", func(c *Config) { c.K, c.M = 200, 57 }},
		{"too few providers", func(c *Config) { c.Providers = 7 }},
		{"no files", func(c *Config) { c.Files = 0 }},
		{"too many shards", func(c *Config) { c.Files, c.K, c.M, c.Providers = MaxFiles, 100, 100, 1000 }},
		{"threshold below k", func(c *Config) { c.RepairThreshold = 3 }},
		{"threshold above k+m", func(c *Config) { c.RepairThreshold = 9 }},
		{"epoch too short", func(c *Config) { c.Epoch = time.Millisecond }},
		{"too many epochs", func(c *Config) { c.Epoch, c.Duration = time.Second, 365*24*time.Hour }},
		{"negative lifetime", func(c *Config) { c.MeanLifetime = -1 }},
		{"offline rate above 1", func(c *Config) { c.DailyOfflineRate = 1.5 }},
		{"detect negative", func(c *Config) { c.DetectEpochs = -1 }},
		{"bad reputation", func(c *Config) { c.Reputation.Lambda = 2 }},
	}
	for _, tt := range tests {
		c := small()
		tt.cfg(&c)
		if _, err := Run(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Run = %v, want ErrConfig", tt.name, err)
		}
	}
	c := small()
	c.M, c.RepairThreshold = 0, 0 // default threshold k+1 would exceed k+m
	if err := c.Validate(); err != nil {
		t.Errorf("m=0 with default threshold: Validate = %v, want nil", err)
	}
}

func TestSpread(t *testing.T) {
	tests := []struct {
		in            []float64
		maxMean, gini float64
	}{
		{[]float64{3, 3, 3, 3}, 1, 0},
		{[]float64{0, 0, 0, 4}, 4, 0.75},
		{[]float64{0, 0}, 0, 0},
	}
	for _, tt := range tests {
		mm, g := spread(append([]float64(nil), tt.in...))
		if mm != tt.maxMean || g != tt.gini {
			t.Errorf("spread(%v) = %v, %v, want %v, %v", tt.in, mm, g, tt.maxMean, tt.gini)
		}
	}
}
