package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/dsn-project/dsn/market"
)

// ErrConfig is returned by Config.Validate and Run for a configuration
// that is out of range; the message names the field.
var ErrConfig = errors.New("invalid simulation config")

// Bounds on a run, so that a mistyped flag fails at once instead of
// exhausting memory or running for days.
const (
	MaxProviders = 1 << 20
	MaxFiles     = 1 << 22
	MaxShards    = 1 << 27 // Files × (K+M)
	MaxWidth     = 256     // K+M, the Reed-Solomon limit over GF(2^8)
	MaxEpochs    = 1 << 20
)

// Year is the span the per-year rates of Report are scaled to.
const Year = 365 * 24 * time.Hour

// Config describes one simulated network. The zero value of every field
// but Providers, Files and K takes the default its comment gives.
type Config struct {
	// Providers is the number of providers online in the network. It stays
	// constant: each one that leaves is replaced by a new, unvetted one.
	Providers int
	// Files is the number of files stored at the start, each one segment
	// of K+M shards on distinct providers.
	Files int
	// K and M are the data and parity shards of a segment.
	K, M int
	// RepairThreshold: a segment is repaired when its healthy shards fall
	// to this many or fewer. 0 means K+1; it must lie in [K, K+M]. K
	// repairs only at the last moment, K+M at the first missing shard.
	RepairThreshold int
	// Epoch is the audit period and the step of virtual time; 0 means one
	// hour.
	Epoch time.Duration
	// Duration is the simulated span; 0 means one year (Year).
	Duration time.Duration
	// MeanLifetime is how long a provider stays before leaving for good,
	// with its shards, on average (exponential lifetimes). 0 means
	// providers never leave.
	MeanLifetime time.Duration
	// DailyOfflineRate is the chance, per day, that an online provider
	// goes offline for a while (a reboot, an outage), in [0, 1].
	DailyOfflineRate float64
	// MeanOffline is the mean length of an offline spell (exponential,
	// at least one epoch); 0 means six hours.
	MeanOffline time.Duration
	// DetectEpochs is how many audits in a row a provider must miss
	// before the owner counts its shards as gone and repairs around
	// them; 0 means market.MaxConsecutiveFailures, after which a deal
	// fails. A provider that answers again before its shards are
	// repaired away counts as healthy again.
	DetectEpochs int
	// Candidates is how many providers are drawn, at random, as the
	// ranked candidates for one shard (the closest peers to a random
	// key); 0 means 16.
	Candidates int
	// Reputation are the parameters of the providers' reputations; the
	// zero value means market.DefaultReputation.
	Reputation market.ReputationParams
	// Limits are the owner's selection limits; the zero value means
	// market.DefaultLimits() (score at least 0.96, one unvetted provider
	// per segment). To accept any score and no unvetted provider, set
	// MinScore to a tiny positive value instead of zero.
	Limits market.ClientLimits
	// Seed seeds the generator; runs with equal configs are identical.
	Seed uint64
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.RepairThreshold == 0 {
		c.RepairThreshold = c.K + 1
		if c.M == 0 {
			c.RepairThreshold = c.K
		}
	}
	if c.Epoch == 0 {
		c.Epoch = time.Hour
	}
	if c.Duration == 0 {
		c.Duration = Year
	}
	if c.MeanOffline == 0 {
		c.MeanOffline = 6 * time.Hour
	}
	if c.DetectEpochs == 0 {
		c.DetectEpochs = market.MaxConsecutiveFailures
	}
	if c.Candidates == 0 {
		c.Candidates = 16
	}
	if c.Reputation == (market.ReputationParams{}) {
		c.Reputation = market.DefaultReputation
	}
	if c.Limits == (market.ClientLimits{}) {
		c.Limits = market.DefaultLimits()
	}
	return c
}

// Validate reports whether c, with its defaults, describes a run that
// can be simulated, with an error wrapping ErrConfig if not.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case c.K < 1 || c.M < 0 || c.K+c.M > MaxWidth:
		return bad("k %d, m %d: need k >= 1, m >= 0, k+m <= %d", c.K, c.M, MaxWidth)
	case c.Providers < c.K+c.M || c.Providers > MaxProviders:
		return bad("providers %d: need k+m (%d) to %d", c.Providers, c.K+c.M, MaxProviders)
	case c.Files < 1 || c.Files > MaxFiles:
		return bad("files %d: need 1 to %d", c.Files, MaxFiles)
	case int64(c.Files)*int64(c.K+c.M) > MaxShards:
		return bad("files × (k+m) = %d: at most %d", int64(c.Files)*int64(c.K+c.M), MaxShards)
	case c.RepairThreshold < c.K || c.RepairThreshold > c.K+c.M:
		return bad("repair threshold %d: need k (%d) to k+m (%d)", c.RepairThreshold, c.K, c.K+c.M)
	case c.Epoch < time.Second:
		return bad("epoch %v: at least 1s", c.Epoch)
	case c.Duration < c.Epoch || c.Duration/c.Epoch > MaxEpochs:
		return bad("duration %v: need 1 to %d epochs of %v", c.Duration, MaxEpochs, c.Epoch)
	case c.MeanLifetime < 0:
		return bad("mean lifetime %v is negative", c.MeanLifetime)
	case !(c.DailyOfflineRate >= 0 && c.DailyOfflineRate <= 1):
		return bad("daily offline rate %v: need 0 to 1", c.DailyOfflineRate)
	case c.MeanOffline < 0:
		return bad("mean offline %v is negative", c.MeanOffline)
	case c.DetectEpochs < 1 || c.DetectEpochs > MaxEpochs:
		return bad("detect epochs %d: need 1 to %d", c.DetectEpochs, MaxEpochs)
	case c.Candidates < 1 || c.Candidates > 1024:
		return bad("candidates %d: need 1 to 1024", c.Candidates)
	case !(c.Limits.MinScore <= 1):
		return bad("minimum score %v: at most 1", c.Limits.MinScore)
	case c.Limits.MaxUnvetted < 0:
		return bad("max unvetted %d is negative", c.Limits.MaxUnvetted)
	}
	if err := c.Reputation.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}
