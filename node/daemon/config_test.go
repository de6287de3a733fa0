package daemon

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dsn-project/dsn/ledger"
)

const testPeer = "12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5"

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" for valid; else a piece of the error
	}{
		{"default", string(DefaultConfig().Marshal()), ""},
		{"minimal", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0"}`, ""},
		{"bootstrap", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"[::1]:5001","bootstrap":["/ip4/10.0.0.1/tcp/4001/p2p/` + testPeer + `"]}`, ""},
		{"no listen", `{"api":"127.0.0.1:0"}`, "listen: no addresses"},
		{"bad listen", `{"listen":["tcp://1.2.3.4"],"api":"127.0.0.1:0"}`, "listen[0]"},
		{"listen with peer", `{"listen":["/ip4/1.2.3.4/tcp/1/p2p/` + testPeer + `"],"api":"127.0.0.1:0"}`, "must not"},
		{"bootstrap without peer", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0","bootstrap":["/ip4/10.0.0.1/tcp/4001"]}`, "bootstrap[0]"},
		{"negative capacity", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0","capacity":-5}`, "capacity"},
		{"public api", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"0.0.0.0:5001"}`, "loopback"},
		{"api host name", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"localhost:5001"}`, "loopback"},
		{"api no port", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1"}`, "api"},
		{"api bad port", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:99999"}`, "port"},
		{"unknown field", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0","capacty":5}`, "capacty"},
		{"wrong type", `{"listen":"/ip4/127.0.0.1/tcp/0","api":"127.0.0.1:0"}`, "listen"},
		{"syntax", "{\n\"listen\": [\n,]}", "line 3"},
		{"trailing", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0"} {}`, "after"},
		{"epoch", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0","epoch":"30s"}`, ""},
		{"epoch too short", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0","epoch":"500ms"}`, "epoch"},
		{"epoch too long", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0","epoch":"800h"}`, "epoch"},
		{"epoch not whole seconds", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0","epoch":"1.5s"}`, "whole number of seconds"},
		{"epoch not text", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0","epoch":3600}`, "duration"},
		{"epoch bad text", `{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0","epoch":"an hour"}`, "an hour"},
		{"too many listen", `{"listen":[` + strings.Repeat(`"/ip4/127.0.0.1/tcp/0",`, 40) + `"/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0"}`, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ParseConfig(%q) = %v, want success", tt.in, err)
				}
				return
			}
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseConfig(%.80q) = %v, want ErrBadConfig mentioning %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestConfigRoundTrip(t *testing.T) {
	c := DefaultConfig()
	c.Bootstrap = []string{"/ip4/10.0.0.1/tcp/4001/p2p/" + testPeer}
	c.MDNS = true
	c.Epoch = Duration(90 * time.Second)
	got, err := ParseConfig(strings.NewReader(string(c.Marshal())))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Marshal()) != string(c.Marshal()) {
		t.Errorf("ParseConfig(Marshal(c)) = %s, want %s", got.Marshal(), c.Marshal())
	}
}

func TestOverrides(t *testing.T) {
	c := DefaultConfig()
	c.Bootstrap = []string{"/ip4/10.0.0.1/tcp/4001/p2p/" + testPeer}
	zero := int64(0)
	got, err := Overrides{
		Listen:    []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap: []string{"/ip4/10.0.0.2/tcp/4001/p2p/" + testPeer},
		Capacity:  &zero,
	}.Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Listen) != 1 || len(got.Bootstrap) != 2 || got.Capacity != 0 || got.API != c.API {
		t.Errorf("Apply = %+v, want the listen and capacity replaced and the bootstrap list extended", got)
	}
	if len(c.Bootstrap) != 1 {
		t.Error("Apply changed the config it was given")
	}
	if _, err := (Overrides{API: "8.8.8.8:1"}).Apply(c); !errors.Is(err, ErrBadConfig) {
		t.Errorf("Apply(public API) = %v, want ErrBadConfig", err)
	}
	// The ask's terms, as dsn node run --price-per-gib-month and the
	// others set them, within the ledger's bound.
	month, served, coll := uint64(3e9), uint64(2e8), uint64(5e9)
	got, err = Overrides{PricePerGiBMonth: &month, PricePerGiB: &served, CollateralPerGiB: &coll}.Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	if tr := got.Terms(); tr.PricePerGiBMonth != month || tr.PricePerGiB != served || tr.CollateralPerGiB != coll {
		t.Errorf("Terms after price overrides = %+v, want %d, %d, %d", tr, month, served, coll)
	}
	tooMuch := uint64(ledger.MaxPrice + 1)
	if _, err := (Overrides{PricePerGiBMonth: &tooMuch}).Apply(c); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "price_per_gib_month") {
		t.Errorf("Apply(price above the ledger's bound) = %v, want ErrBadConfig naming the field", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(DefaultConfig().Marshal())
	f.Add([]byte(`{"listen":["/ip4/127.0.0.1/tcp/0"],"api":"127.0.0.1:0","bootstrap":["/ip4/10.0.0.1/tcp/4001/p2p/` + testPeer + `"]}`))
	f.Add([]byte(`{"listen":["/dns4/x/udp/1/quic-v1"],"api":"[::1]:1","capacity":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(strings.NewReader(string(b)))
		if err != nil {
			if !errors.Is(err, ErrBadConfig) {
				t.Fatalf("ParseConfig error %v is not ErrBadConfig", err)
			}
			return
		}
		// A config that parses survives its own encoding unchanged.
		again, err := ParseConfig(strings.NewReader(string(c.Marshal())))
		if err != nil || string(again.Marshal()) != string(c.Marshal()) {
			t.Fatalf("round trip of %s = %s, %v", c.Marshal(), again.Marshal(), err)
		}
	})
}
