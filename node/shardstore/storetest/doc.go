// Package storetest is the conformance suite for dsn.ShardStore. Every
// implementation (memory, disk, network) runs the same Run, so code above
// the store can rely on one behaviour. It owns no store of its own.
package storetest
