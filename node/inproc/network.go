package inproc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dsn-project/dsn"
)

var (
	// ErrReset is returned by reads and writes on a stream that either end
	// reset, whose remote end closed it for reading, or that broke because a
	// peer was killed or partitioned away.
	ErrReset = errors.New("stream reset")
	// ErrClosed is returned by reads on a stream end after its Close, and by
	// writes after its CloseWrite or Close.
	ErrClosed = errors.New("stream closed")
)

// errBroken is what both ends of a stream see when a peer was killed or
// partitioned away: a reset, caused by the peer becoming unreachable.
var errBroken = fmt.Errorf("%w: %w", ErrReset, dsn.ErrUnreachable)

// Network is a set of in-process peers that can open streams to each other.
// Its methods are safe for concurrent use.
type Network struct {
	mu    sync.Mutex
	peers map[dsn.PeerID]*Transport
	// group maps each peer to its partition group; nil when not partitioned.
	group map[dsn.PeerID]int
	conns map[*conn]struct{}
	// records is the network's shared record store (records.go).
	records records
}

// NewNetwork returns an empty network.
func NewNetwork() *Network {
	return &Network{
		peers: make(map[dsn.PeerID]*Transport),
		conns: make(map[*conn]struct{}),
	}
}

// Add puts a new live peer on the network and returns its Transport. Adding
// an id twice is a programmer error and panics. A peer added while the
// network is partitioned is in no group, so it is isolated until Heal.
func (n *Network) Add(id dsn.PeerID) *Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.peers[id]; ok {
		panic(fmt.Sprintf("inproc: peer %q added twice", id))
	}
	t := &Transport{net: n, id: id, alive: true, handlers: make(map[string]dsn.StreamHandler)}
	n.peers[id] = t
	return t
}

// Kill makes peer id vanish: every open stream to or from it fails at both
// ends, and new streams to or from it fail with dsn.ErrUnreachable until
// Revive. Unknown ids are ignored.
func (n *Network) Kill(id dsn.PeerID) {
	n.mu.Lock()
	t, ok := n.peers[id]
	if !ok {
		n.mu.Unlock()
		return
	}
	t.alive = false
	broken := n.takeConnsLocked(func(c *conn) bool { return c.a == id || c.b == id })
	n.mu.Unlock()
	for _, c := range broken {
		c.fail(errBroken)
	}
}

// Revive brings a killed peer back, with the handlers it had. Streams broken
// by Kill stay broken.
func (n *Network) Revive(id dsn.PeerID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if t, ok := n.peers[id]; ok {
		t.alive = true
	}
}

// Partition splits the network: peers in different groups cannot reach each
// other, and open streams between them break. A peer named in no group
// (including one added later) is isolated from every other peer. It replaces
// any earlier partition. Naming a peer in two groups is a programmer error
// and panics.
func (n *Network) Partition(groups ...[]dsn.PeerID) {
	g := make(map[dsn.PeerID]int)
	for i, ids := range groups {
		for _, id := range ids {
			if _, dup := g[id]; dup {
				panic(fmt.Sprintf("inproc: peer %q in two partition groups", id))
			}
			g[id] = i
		}
	}
	n.mu.Lock()
	n.group = g
	broken := n.takeConnsLocked(func(c *conn) bool { return !n.sameSideLocked(c.a, c.b) })
	n.mu.Unlock()
	for _, c := range broken {
		c.fail(errBroken)
	}
}

// Heal removes any partition. Streams broken by it stay broken.
func (n *Network) Heal() {
	n.mu.Lock()
	n.group = nil
	n.mu.Unlock()
}

// takeConnsLocked removes and returns the open connections matching f.
func (n *Network) takeConnsLocked(f func(*conn) bool) []*conn {
	var out []*conn
	for c := range n.conns {
		if f(c) {
			out = append(out, c)
			delete(n.conns, c)
		}
	}
	return out
}

func (n *Network) sameSideLocked(a, b dsn.PeerID) bool {
	if n.group == nil {
		return true
	}
	ga, oka := n.group[a]
	gb, okb := n.group[b]
	return oka && okb && ga == gb
}

// reachableLocked reports whether from can open a stream to to.
func (n *Network) reachableLocked(from, to dsn.PeerID) bool {
	a, b := n.peers[from], n.peers[to]
	return from != to && a != nil && b != nil && a.alive && b.alive && n.sameSideLocked(from, to)
}

func (n *Network) forget(c *conn) {
	n.mu.Lock()
	delete(n.conns, c)
	n.mu.Unlock()
}

// Transport is one peer's view of a Network. It implements dsn.Transport.
type Transport struct {
	net *Network
	id  dsn.PeerID
	// Guarded by net.mu.
	alive    bool
	handlers map[string]dsn.StreamHandler
}

var _ dsn.Transport = (*Transport)(nil)

// Self returns this peer's id.
func (t *Transport) Self() dsn.PeerID { return t.id }

// Peers lists, sorted, the other live peers this one can reach now; none
// while this peer is killed.
func (t *Transport) Peers() []dsn.PeerID {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	var out []dsn.PeerID
	for id := range t.net.peers {
		if t.net.reachableLocked(t.id, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// NewStream opens a stream to p for protocol and starts p's handler on the
// other end in a new goroutine.
func (t *Transport) NewStream(ctx context.Context, p dsn.PeerID, protocol string) (dsn.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s stream to %s: %w", protocol, p, err)
	}
	n := t.net
	n.mu.Lock()
	if !n.reachableLocked(t.id, p) {
		n.mu.Unlock()
		return nil, fmt.Errorf("open %s stream to %s: %w", protocol, p, dsn.ErrUnreachable)
	}
	h := n.peers[p].handlers[protocol]
	if h == nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("open %s stream to %s: %w", protocol, p, dsn.ErrProtocolNotSupported)
	}
	c := &conn{net: n, a: t.id, b: p}
	n.conns[c] = struct{}{}
	n.mu.Unlock()

	local := &Stream{c: c, in: &c.ba, out: &c.ab, remote: p, protocol: protocol}
	remote := &Stream{c: c, in: &c.ab, out: &c.ba, remote: t.id, protocol: protocol}
	go h(remote)
	return local, nil
}

// SetStreamHandler serves protocol with h, replacing any earlier handler.
func (t *Transport) SetStreamHandler(protocol string, h dsn.StreamHandler) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	t.handlers[protocol] = h
}

// RemoveStreamHandler stops serving protocol; open streams are unaffected.
func (t *Transport) RemoveStreamHandler(protocol string) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	delete(t.handlers, protocol)
}

// conn is the shared state of one stream: a pipe each way between peers a
// (the opener) and b.
type conn struct {
	net  *Network
	a, b dsn.PeerID
	ab   pipe
	ba   pipe
}

func (c *conn) fail(err error) { failBoth(&c.ab, &c.ba, err) }

// check forgets the connection once neither direction can carry anything,
// so that a long-lived network does not accumulate finished streams.
func (c *conn) check() {
	if c.ab.finished() && c.ba.finished() {
		c.net.forget(c)
	}
}

// Stream is one end of an in-process stream. It implements dsn.Stream.
type Stream struct {
	c        *conn
	in, out  *pipe
	remote   dsn.PeerID
	protocol string
	rdl, wdl deadline
}

var _ dsn.Stream = (*Stream)(nil)

// Read reads bytes the remote end wrote; io.EOF after its CloseWrite.
func (s *Stream) Read(b []byte) (int, error) {
	n, err := s.in.read(b, &s.rdl)
	if err != nil {
		s.c.check()
	}
	return n, err
}

// Write writes b, blocking while the remote end's buffer is full.
func (s *Stream) Write(b []byte) (int, error) {
	return s.out.write(b, &s.wdl)
}

// CloseWrite ends this end's writes: the remote reads io.EOF after the data.
func (s *Stream) CloseWrite() error {
	s.out.closeWrite()
	s.c.check()
	return nil
}

// Close closes both directions: the remote reads io.EOF after the data
// written so far, and its later writes fail with ErrReset.
func (s *Stream) Close() error {
	s.out.closeWrite()
	s.in.closeRead()
	s.c.check()
	return nil
}

// Reset aborts the stream: pending and later reads and writes at both ends
// fail with ErrReset.
func (s *Stream) Reset() error {
	s.c.fail(ErrReset)
	s.c.net.forget(s.c)
	return nil
}

// SetDeadline sets the read and write deadlines; the zero time clears them.
func (s *Stream) SetDeadline(t time.Time) error {
	s.rdl.set(t)
	s.wdl.set(t)
	return nil
}

// SetReadDeadline bounds reads, as net.Conn's does.
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.rdl.set(t)
	return nil
}

// SetWriteDeadline bounds writes, as net.Conn's does.
func (s *Stream) SetWriteDeadline(t time.Time) error {
	s.wdl.set(t)
	return nil
}

// RemotePeer returns the peer at the other end.
func (s *Stream) RemotePeer() dsn.PeerID { return s.remote }

// Protocol returns the protocol the stream was opened for.
func (s *Stream) Protocol() string { return s.protocol }
