// Package auditproto is the challenge protocol for proofs of
// retrievability, "/dsn/challenge/1.0.0". A full description lands in the
// next commit.
package auditproto
