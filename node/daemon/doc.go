// Package daemon runs a dsn node as a long-lived process: it owns the repo
// (the directory with a node's identity key, config, shard store and
// remembered peers), the daemon that serves a repo's shard store to the
// network and runs its client, and the local HTTP API through which the
// other dsn commands use a running daemon.
//
// A repo is used by one process at a time: pebble allows one process per
// database, and two processes with the same identity would confuse their
// peers. OpenRepo takes an flock on repo.lock that the kernel drops when the
// process dies, however it dies. Commands pointed at a repo whose daemon
// runs go through its API (address in the repo's api file); without a
// daemon, they start a temporary node for one command (Session).
//
// It does not own the network (node/p2p), the storage and retrieval
// pipelines (node), or the wire shapes of the API (node/daemon/api). The
// Daemon takes its network as a Host so that tests run it over the
// in-process transport.
package daemon
