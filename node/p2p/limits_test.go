package p2p

import (
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestLimits(t *testing.T) {
	l, err := Limits{Conns: 100, PeerMemory: 64 << 20}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	lim := l.limiter()
	sys := lim.GetSystemLimits()
	checks := []struct {
		name      string
		got, want int64
	}{
		{"system conns", int64(sys.GetConnTotalLimit()), 100},
		{"system inbound conns", int64(sys.GetConnLimit(network.DirInbound)), 50},
		{"system streams", int64(sys.GetStreamTotalLimit()), DefaultStreams},
		{"system memory", sys.GetMemoryLimit(), DefaultMemory},
		{"system fd", int64(sys.GetFDLimit()), DefaultFD},
		{"peer conns", int64(lim.GetPeerLimits(peer.ID("x")).GetConnTotalLimit()), DefaultPeerConns},
		{"peer streams", int64(lim.GetPeerLimits(peer.ID("x")).GetStreamTotalLimit()), DefaultPeerStreams},
		{"peer memory", lim.GetPeerLimits(peer.ID("x")).GetMemoryLimit(), 64 << 20},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if _, err := (Limits{Streams: -1}).withDefaults(); err == nil || !strings.Contains(err.Error(), "Streams") {
		t.Errorf("withDefaults(Streams: -1) = %v, want an error naming Streams", err)
	}
}
