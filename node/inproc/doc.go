// Package inproc is an in-process dsn.Transport: every peer lives in the same
// Go process and streams are bounded in-memory pipes. It exists so that
// whole networks of nodes can run in one test binary, with peers killed,
// revived and partitioned at will, and with the same stream behaviour that
// the libp2p transport shows:
//
//   - Writes block once a bounded per-direction buffer (MaxBuffer bytes) is
//     full, so a slow reader slows the writer down and memory stays bounded.
//   - CloseWrite is a half-close: the remote reads everything written before
//     it and then io.EOF, and can keep writing back.
//   - Close is CloseWrite plus closing the read side: data still in flight
//     towards the closing end is discarded and the remote's later writes
//     fail with ErrReset (as QUIC's STOP_SENDING does).
//   - Reset fails pending and later reads and writes at both ends with
//     ErrReset, discarding buffered data.
//   - Deadlines (SetDeadline, SetReadDeadline, SetWriteDeadline) behave as
//     net.Conn's: an expired deadline fails reads or writes with an error
//     matching os.ErrDeadlineExceeded, and can be extended afterwards.
//   - Handlers run in their own goroutine per inbound stream.
//
// Faults: Network.Kill makes a peer vanish (its open streams fail at both
// ends with an error matching both ErrReset and dsn.ErrUnreachable, new
// streams to or from it fail with dsn.ErrUnreachable); Network.Revive brings
// it back with its handlers. Network.Partition splits the peers into groups
// that cannot reach each other; a peer named in no group is isolated from
// everyone until Network.Heal.
//
// The package owns nothing above the stream: no framing, no protocols, no
// peer discovery beyond listing the peers on the same Network.
package inproc
