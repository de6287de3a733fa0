package market

import (
	"net/netip"
	"testing"
)

func TestSubnet(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.0/24"},
		{"203.0.113.250", "203.0.113.0/24"},
		{"203.0.114.7", "203.0.114.0/24"},
		{"::ffff:203.0.113.7", "203.0.113.0/24"},
		{"2001:db8:1:2::5", "2001:db8:1::/48"},
		{"127.0.0.1", "127.0.0.0/24"},
	}
	for _, tt := range tests {
		if got := Subnet(netip.MustParseAddr(tt.in)); got != tt.want {
			t.Errorf("Subnet(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestPickSpread(t *testing.T) {
	subnets := map[string][]string{"a": {"n1"}, "b": {"n1"}, "c": {"n2"}, "d": nil}
	sub := func(p string) []string { return subnets[p] }
	tests := []struct {
		name  string
		cands []string
		taken string
		used  map[string]bool
		want  string
		ok    bool
	}{
		{"closest when nothing used", []string{"a", "b", "c"}, "", nil, "a", true},
		{"skips a used subnet", []string{"a", "b", "c"}, "", map[string]bool{"n1": true}, "c", true},
		{"unknown address is its own subnet", []string{"a", "d"}, "", map[string]bool{"n1": true}, "d", true},
		{"falls back to closest when all clash", []string{"a", "b"}, "", map[string]bool{"n1": true}, "a", true},
		{"never a taken peer", []string{"a", "b"}, "a", map[string]bool{"n1": true}, "b", true},
		{"none left", []string{"a"}, "a", nil, "", false},
	}
	for _, tt := range tests {
		sameNet := func(p string) bool {
			for _, n := range sub(p) {
				if tt.used[n] {
					return true
				}
			}
			return false
		}
		got, ok := PickSpread(tt.cands, func(p string) bool { return p == tt.taken }, sameNet)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: PickSpread = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
