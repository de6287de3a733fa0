// Package netnstest builds small virtual networks out of Linux network
// namespaces for tests that need real network stacks: hosts on a switched
// segment, routers that translate addresses (NAT), private LANs behind them.
//
// Everything it creates is named with a prefix unique to the test run (the
// process ID and a counter), lives only inside namespaces it made (no
// interface is ever added to the namespace the test runs in, so no packet
// can reach a real network), and is removed by t.Cleanup, even when the
// test fails. Namespaces left behind by a run that was killed are removed by
// the next run.
//
// It needs root, the ip command (iproute2) and, for NAT, the nft command
// (nftables); New skips the test, naming what is missing, when they are not
// there.
//
// It owns only the plumbing: namespaces, veth pairs, bridges, addresses,
// routes and nftables rules. It does not start or watch the processes under
// test; Namespace.Command gives the exec.Cmd to run one inside a namespace.
package netnstest
