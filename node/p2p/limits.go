package p2p

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// Limits bounds what the libp2p stack of one Host may use. Zero fields take
// the defaults listed beside them. The limits are enforced by libp2p's
// resource manager: a connection or stream over a limit is refused (the
// remote sees a reset), and a muxer whose memory reservation is refused
// keeps its flow-control window small instead of growing it.
//
// System and per-peer scopes are set from these fields. The finer scopes
// (transient connections still in their handshake, each libp2p service and
// protocol, each connection and stream) take go-libp2p's default scaling
// limits (rcmgr.DefaultLimits plus libp2p.SetDefaultServiceLimits) scaled
// to Memory and FD, as go-libp2p itself does with a share of the machine's
// memory.
type Limits struct {
	// Memory is the most memory, in bytes, that all connections and
	// streams together may reserve, mostly muxer receive windows (a yamux
	// stream's window grows to 16 MiB on a fast link). Default 1 GiB.
	Memory int64
	// FD is the most file descriptors that sockets may hold. Default 1024.
	FD int
	// Conns is the most open connections; at most half of them inbound.
	// Default 512. The connection manager starts closing the least useful
	// connections at 3/4 of it, down to 1/2.
	Conns int
	// Streams is the most open streams over all connections; at most half
	// of them inbound. Default 8192.
	Streams int
	// PeerConns is the most connections to one peer. Default 8 (parallel
	// dials over TCP and QUIC may briefly open more than one).
	PeerConns int
	// PeerStreams is the most streams with one peer; at most half of them
	// inbound. Default 1024.
	PeerStreams int
	// PeerMemory is the most memory one peer's connections and streams may
	// reserve. Default 256 MiB: room for sixteen full-window streams, so
	// one client uploading to or downloading from a provider in parallel is
	// not throttled, while one peer cannot take the whole budget.
	PeerMemory int64
}

// Default limits; see Limits.
const (
	DefaultMemory      = 1 << 30
	DefaultFD          = 1024
	DefaultConns       = 512
	DefaultStreams     = 8192
	DefaultPeerConns   = 8
	DefaultPeerStreams = 1024
	DefaultPeerMemory  = 256 << 20
)

// withDefaults fills zero fields and rejects negative ones.
func (l Limits) withDefaults() (Limits, error) {
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"FD", &l.FD, DefaultFD},
		{"Conns", &l.Conns, DefaultConns},
		{"Streams", &l.Streams, DefaultStreams},
		{"PeerConns", &l.PeerConns, DefaultPeerConns},
		{"PeerStreams", &l.PeerStreams, DefaultPeerStreams},
	}
	for _, f := range ints {
		switch {
		case *f.v < 0:
			return l, fmt.Errorf("limit %s = %d, want >= 0 (0: default %d)", f.name, *f.v, f.def)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		name string
		v    *int64
		def  int64
	}{
		{"Memory", &l.Memory, DefaultMemory},
		{"PeerMemory", &l.PeerMemory, DefaultPeerMemory},
	} {
		switch {
		case *f.v < 0:
			return l, fmt.Errorf("limit %s = %d, want >= 0 (0: default %d)", f.name, *f.v, f.def)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	if l.PeerMemory > l.Memory {
		l.PeerMemory = l.Memory
	}
	return l, nil
}

// limiter builds the resource manager's limiter from l (with defaults
// filled in).
func (l Limits) limiter() rcmgr.Limiter {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(l.Memory, l.FD)
	half := func(n int) rcmgr.LimitVal { return rcmgr.LimitVal(max(1, n/2)) }
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns:           rcmgr.LimitVal(l.Conns),
			ConnsInbound:    half(l.Conns),
			ConnsOutbound:   rcmgr.LimitVal(l.Conns),
			Streams:         rcmgr.LimitVal(l.Streams),
			StreamsInbound:  half(l.Streams),
			StreamsOutbound: rcmgr.LimitVal(l.Streams),
			FD:              rcmgr.LimitVal(l.FD),
			Memory:          rcmgr.LimitVal64(l.Memory),
		},
		PeerDefault: rcmgr.ResourceLimits{
			Conns:           rcmgr.LimitVal(l.PeerConns),
			ConnsInbound:    rcmgr.LimitVal(l.PeerConns),
			ConnsOutbound:   rcmgr.LimitVal(l.PeerConns),
			Streams:         rcmgr.LimitVal(l.PeerStreams),
			StreamsInbound:  half(l.PeerStreams),
			StreamsOutbound: rcmgr.LimitVal(l.PeerStreams),
			Memory:          rcmgr.LimitVal64(l.PeerMemory),
		},
	}
	return rcmgr.NewFixedLimiter(partial.Build(base))
}
