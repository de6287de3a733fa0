// Package api is the daemon's local HTTP API as its users see it: the JSON
// shapes of requests and answers, and a Client that finds a running daemon
// through its repo's api file and calls it.
//
// It owns the wire shapes and the client. It does not own the server (package
// node/daemon) or anything about how files are stored.
package api
