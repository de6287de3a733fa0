package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/book"
)

// ConfigFile is the name of the config file inside a repo.
const ConfigFile = "config.json"

// Bounds on what a config may hold.
const (
	maxConfigSize = 1 << 20
	maxListen     = 32
	maxBootstrap  = 256
	maxAddrLen    = 1024
)

// ErrBadConfig is returned (wrapped, with what was wrong) when a config file
// cannot be parsed or holds invalid values.
var ErrBadConfig = errors.New("invalid config")

// Config is a node's configuration, kept as JSON in the repo.
type Config struct {
	// Listen are the multiaddrs the node listens on.
	Listen []string `json:"listen"`
	// Bootstrap are multiaddrs, each ending in /p2p/<peer id>, of peers to
	// contact first. Peers remembered from earlier runs are tried as well.
	Bootstrap []string `json:"bootstrap"`
	// Capacity is how many bytes of shards the node keeps for others; 0
	// means the node is not a provider (it stores and retrieves its own
	// files only, and is a DHT client).
	Capacity int64 `json:"capacity"`
	// API is the address of the local HTTP API. It must be a loopback IP
	// and a port; port 0 picks a free one, recorded in the repo's api file.
	API string `json:"api"`
	// MDNS finds peers on the local network.
	MDNS bool `json:"mdns"`
	// Epoch is how often the node challenges the providers holding its
	// files ("" or 0: DefaultEpoch), as a Go duration ("1h", "30s").
	Epoch Duration `json:"epoch,omitempty"`
	// PricePerGiBMonth and PricePerGiB are, in nano-units, what the node
	// offers as a client and accepts at least as a provider for keeping a
	// GiB for 30 days and for serving a GiB (0: book.DefaultTerms).
	PricePerGiBMonth uint64 `json:"price_per_gib_month,omitempty"`
	PricePerGiB      uint64 `json:"price_per_gib,omitempty"`
	// DealDuration is how long the deals the node proposes last (0: 30
	// days).
	DealDuration Duration `json:"deal_duration,omitempty"`
	// CollateralPerGiB is the collateral, in nano-units per GiB, a
	// provider offers in its ask.
	CollateralPerGiB uint64 `json:"collateral_per_gib,omitempty"`
	// MaxPricePerGiBMonth is the most, in nano-units per GiB kept for 30
	// days, the node pays as a client (0: no limit); providers asking
	// more, or with no standing ask, are passed over.
	MaxPricePerGiBMonth uint64 `json:"max_price_per_gib_month,omitempty"`
}

// Bounds on deal durations: long enough for a few epochs, short enough
// that terms get renewed.
const (
	MinDealDuration = 10 * time.Second
	MaxDealDuration = 10 * 365 * 24 * time.Hour
)

// Terms are the node's prices and deal duration, defaults filled in.
func (c *Config) Terms() book.Terms {
	t := book.DefaultTerms
	if c.PricePerGiBMonth != 0 {
		t.PricePerGiBMonth = c.PricePerGiBMonth
	}
	if c.PricePerGiB != 0 {
		t.PricePerGiB = c.PricePerGiB
	}
	if c.DealDuration != 0 {
		t.DealDuration = time.Duration(c.DealDuration)
	}
	if c.CollateralPerGiB != 0 {
		t.CollateralPerGiB = c.CollateralPerGiB
	}
	return t
}

// DefaultEpoch is the audit period unless the config says otherwise.
const DefaultEpoch = time.Hour

// Bounds on the epoch: seconds for tests, a month at most so that a lost
// shard is noticed while repair can still act.
const (
	MinEpoch = time.Second
	MaxEpoch = 30 * 24 * time.Hour
)

// EpochOrDefault is the configured epoch, or DefaultEpoch.
func (c *Config) EpochOrDefault() time.Duration {
	if c.Epoch == 0 {
		return DefaultEpoch
	}
	return time.Duration(c.Epoch)
}

// Duration is a time.Duration written in JSON as Go's duration text.
type Duration time.Duration

// MarshalJSON writes the duration as text ("1h0m0s").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration written as text.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is text like \"1h\" or \"30s\", not %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want text like \"1h\" or \"30s\"", s)
	}
	*d = Duration(v)
	return nil
}

// DefaultConfig returns the configuration dsn init writes unless told
// otherwise: a provider of 10 GiB listening on TCP and QUIC port 4001.
func DefaultConfig() Config {
	return Config{
		Listen: []string{
			"/ip4/0.0.0.0/tcp/4001",
			"/ip4/0.0.0.0/udp/4001/quic-v1",
			"/ip6/::/tcp/4001",
			"/ip6/::/udp/4001/quic-v1",
		},
		Bootstrap: []string{},
		Capacity:  10 << 30,
		API:       "127.0.0.1:0",
	}
}

// Validate reports the first thing wrong with c, saying which field and why.
func (c *Config) Validate() error {
	if len(c.Listen) == 0 {
		return fmt.Errorf("%w: listen: no addresses (the node could not be reached)", ErrBadConfig)
	}
	if len(c.Listen) > maxListen {
		return fmt.Errorf("%w: listen: %d addresses, at most %d allowed", ErrBadConfig, len(c.Listen), maxListen)
	}
	for i, a := range c.Listen {
		if err := checkMultiaddr(a, false); err != nil {
			return fmt.Errorf("%w: listen[%d]: %v", ErrBadConfig, i, err)
		}
	}
	if len(c.Bootstrap) > maxBootstrap {
		return fmt.Errorf("%w: bootstrap: %d addresses, at most %d allowed", ErrBadConfig, len(c.Bootstrap), maxBootstrap)
	}
	for i, a := range c.Bootstrap {
		if err := checkMultiaddr(a, true); err != nil {
			return fmt.Errorf("%w: bootstrap[%d]: %v", ErrBadConfig, i, err)
		}
	}
	if c.Capacity < 0 {
		return fmt.Errorf("%w: capacity: %d is negative (0 means: not a provider)", ErrBadConfig, c.Capacity)
	}
	if err := checkAPIAddr(c.API); err != nil {
		return fmt.Errorf("%w: api: %v", ErrBadConfig, err)
	}
	if e := time.Duration(c.Epoch); e != 0 && (e < MinEpoch || e > MaxEpoch) {
		return fmt.Errorf("%w: epoch: %v outside [%v, %v]", ErrBadConfig, e, MinEpoch, MaxEpoch)
	} else if e%time.Second != 0 {
		// The ledger numbers epochs in whole seconds: an epoch of 1.5 s
		// would name windows no deal covers, and never settle.
		return fmt.Errorf("%w: epoch: %v is not a whole number of seconds", ErrBadConfig, e)
	}
	if dd := time.Duration(c.DealDuration); dd != 0 && (dd < MinDealDuration || dd > MaxDealDuration) {
		return fmt.Errorf("%w: deal_duration: %v outside [%v, %v]", ErrBadConfig, dd, MinDealDuration, MaxDealDuration)
	}
	for _, p := range []struct {
		name string
		v    uint64
	}{{"price_per_gib_month", c.PricePerGiBMonth}, {"price_per_gib", c.PricePerGiB}, {"collateral_per_gib", c.CollateralPerGiB}} {
		// The ledger's bound: a deal above it could not be written.
		if p.v > ledger.MaxPrice {
			return fmt.Errorf("%w: %s: %d nano-units, at most %d", ErrBadConfig, p.name, p.v, uint64(ledger.MaxPrice))
		}
	}
	if c.Terms().DealDuration < 2*c.EpochOrDefault() {
		return fmt.Errorf("%w: deal_duration %v is shorter than two epochs of %v: no epoch would lie wholly within a deal", ErrBadConfig, c.Terms().DealDuration, c.EpochOrDefault())
	}
	return nil
}

// checkMultiaddr checks that s is a multiaddr; withPeer also requires it to
// end in /p2p/<peer id>, as a bootstrap address must.
func checkMultiaddr(s string, withPeer bool) error {
	if len(s) > maxAddrLen {
		return fmt.Errorf("address of %d bytes, at most %d allowed", len(s), maxAddrLen)
	}
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return fmt.Errorf("%q is not a multiaddr (like /ip4/1.2.3.4/tcp/4001): %v", s, err)
	}
	_, hasPeer := lastP2P(a)
	if withPeer && !hasPeer {
		return fmt.Errorf("%q does not end in /p2p/<peer id>", s)
	}
	if !withPeer && hasPeer {
		return fmt.Errorf("%q names a peer; a listen address must not", s)
	}
	return nil
}

func lastP2P(a ma.Multiaddr) (string, bool) {
	if len(a) == 0 {
		return "", false
	}
	last := a[len(a)-1]
	if last.Protocol().Code != ma.P_P2P {
		return "", false
	}
	return last.Value(), true
}

// checkAPIAddr checks that s is a loopback IP and a port: the API can write
// files anywhere the daemon can, so it must never face the network.
func checkAPIAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", s, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: the API listens on a loopback IP only (like 127.0.0.1:0), not %q", s, host)
	}
	if _, err := net.LookupPort("tcp", port); err != nil || strings.HasPrefix(port, "-") {
		return fmt.Errorf("%q: bad port %q", s, port)
	}
	return nil
}

// ParseConfig decodes and validates a config. Unknown fields are errors, so
// that a misspelt field is not silently ignored.
func ParseConfig(r io.Reader) (Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	if len(b) > maxConfigSize {
		return Config{}, fmt.Errorf("%w: larger than %d bytes", ErrBadConfig, maxConfigSize)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrBadConfig, describeJSONError(b, err))
	}
	if dec.More() {
		return Config{}, fmt.Errorf("%w: data after the JSON object", ErrBadConfig)
	}
	if c.Bootstrap == nil {
		c.Bootstrap = []string{}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// describeJSONError adds the line of a syntax error, so that a person
// editing the file can find it.
func describeJSONError(b []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
		return fmt.Sprintf("line %d: %v", line, err)
	}
	return err.Error()
}

// LoadConfig reads and validates the config file at path.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	c, err := ParseConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Marshal returns the config as indented JSON.
func (c Config) Marshal() []byte {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		panic(err) // a Config always marshals
	}
	return append(b, '\n')
}

// Overrides are command-line settings that take precedence over the config
// file for one run; they are not written back.
type Overrides struct {
	Listen    []string // nil: the config's
	Bootstrap []string // nil: the config's; added to, not replacing, them
	Capacity  *int64
	API       string
	Epoch     *time.Duration
	// The terms a provider asks (nil: the config's): nano-units per
	// GiB-month kept, per GiB served, and of collateral per GiB.
	PricePerGiBMonth, PricePerGiB, CollateralPerGiB *uint64
}

// Apply returns c with o applied, validated.
func (o Overrides) Apply(c Config) (Config, error) {
	if o.Listen != nil {
		c.Listen = o.Listen
	}
	if o.Bootstrap != nil {
		c.Bootstrap = append(append([]string{}, c.Bootstrap...), o.Bootstrap...)
	}
	if o.Capacity != nil {
		c.Capacity = *o.Capacity
	}
	if o.API != "" {
		c.API = o.API
	}
	if o.Epoch != nil {
		c.Epoch = Duration(*o.Epoch)
	}
	if o.PricePerGiBMonth != nil {
		c.PricePerGiBMonth = *o.PricePerGiBMonth
	}
	if o.PricePerGiB != nil {
		c.PricePerGiB = *o.PricePerGiB
	}
	if o.CollateralPerGiB != nil {
		c.CollateralPerGiB = *o.CollateralPerGiB
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
