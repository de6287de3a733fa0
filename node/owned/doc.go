// Package owned keeps a node's records of the files it stored as their
// owner: each file's reference and manifest, and the audit history of each
// of its shards. It is what the owner's daemon walks every epoch to
// challenge providers, what `dsn audit` and the API report from, and what
// later repair reads to decide which shards to rebuild.
//
// The records live in a pebble database in the node's repo. References
// carry file keys, so the database is as private as the repo's identity
// key: it never leaves the node.
//
// It does not own challenges or proofs (node/auditproto, proofs/...), the
// schedule (node/daemon), or anything a provider keeps.
package owned
