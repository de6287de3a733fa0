// Command dsn is the command line of the dsn storage network: flags, output
// and exit codes. It holds no logic of its own; everything it does is a call
// into package node.
package main
