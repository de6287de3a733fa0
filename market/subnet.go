package market

import "net/netip"

// Subnet names the network a peer's address belongs to, for keeping the
// shards of one segment apart: the /24 of an IPv4 address, the /48 of an
// IPv6 one (a site's usual allocation). Two peers behind one home router,
// or in one rack, share it, so one outage would take both.
func Subnet(ip netip.Addr) string {
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ip.String()
	}
	return p.String()
}

// PickSpread returns the first of candidates (in order) that is not taken
// and not on a network the segment already uses (sameNet), or, when every
// free candidate is, the first that is not taken; ok is false when every
// candidate is taken. Distance decides first, spread second: a farther peer
// is chosen only to keep a segment's shards on different networks.
func PickSpread[P any](candidates []P, taken, sameNet func(P) bool) (pick P, ok bool) {
	var fallback P
	haveFallback := false
	for _, c := range candidates {
		if taken(c) {
			continue
		}
		if !sameNet(c) {
			return c, true
		}
		if !haveFallback {
			fallback, haveFallback = c, true
		}
	}
	return fallback, haveFallback
}
