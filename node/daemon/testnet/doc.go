// Package testnet runs a local dsn network of separate daemon processes on
// 127.0.0.1, for trying dsn on one machine and for end-to-end tests: N
// providers and one client node, each with its own repo under one
// directory.
//
// It owns the layout of a testnet directory (node-<i>/ and client/ repos,
// and an env file naming the client's repo) and starting and stopping the
// processes. It does not own the daemon (package node/daemon), which it
// runs by executing the dsn binary.
package testnet
