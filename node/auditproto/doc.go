// Package auditproto is the challenge protocol for proofs of
// retrievability, Protocol = "/dsn/challenge/1.0.0": an auditor challenges
// a provider over a dsn.Transport, the provider proves from the shard it
// holds, and the auditor verifies and records Pass, Fail or Missed.
//
// It owns the wire format, the provider's side (Server: keeping owners'
// compact tags, building and keeping Merkle outboards, proving), the
// auditor's side (Auditor.Merkle, Auditor.Compact, PutTags) and the
// deadline a challenge gets (Budget). It does not own the proof schemes
// (proofs/merkle, proofs/compact), seeds (proofs.MixSeed), the choice of
// c, scheduling audits, or recording results in the ledger.
//
// # Two schemes
//
// A Merkle challenge (proofs/merkle) is publicly verifiable: anyone who
// knows a shard's ID and size may send one, and the proof is checked
// against the ID alone. Its proof grows with c: about 1.7 KB per sampled
// 1 KiB leaf. A compact challenge (proofs/compact, Shacham–Waters) is
// verified with the owner's secret key, covers many shards at once, and
// its proof is 6433 bytes whatever it covers. The provider proves it from
// tags the owner computed and handed over with PutTags, kept beside the
// shard under a name derived from the owner's peer ID (TagsSidecar); a
// compact challenge is always proved from the challenger's own tags, the
// stream's remote peer as the transport authenticated it. A peer
// challenging shards it never tagged gets NoTags, nothing else.
//
// # Frames
//
// One stream per request. Every message is a frame: a uvarint length
// (minimal LEB128) and a body of that many bytes, at most MaxRequestSize
// (64 KiB) for the request that opens a stream and MaxReplySize (1 KiB)
// for a reply. The body's first byte is its type; numbers are minimal
// uvarints; a body must be consumed exactly. Raw bytes (tags, proofs)
// follow a frame as exactly as many bytes as the frame states, outside
// any frame.
//
//	type 1  PutTags      id (32) | length (uvarint, 1..MaxTagsSize); then length bytes of tags
//	type 2  Merkle       id (32) | seed (32) | c (uvarint, 1..MaxMerkleSamples)
//	type 3  Compact      seed (32) | c (uvarint, 1..compact.MaxSamples) |
//	                     n (uvarint, 1..MaxTargets) | n × (id (32) | size (uvarint, 1..2^31))
//	                     with n*c <= MaxPicks and no id twice
//	type 4  Reply        code (uvarint) | length (uvarint; 0 unless code is OK) |
//	                     text (uvarint count <= 256, UTF-8); then length bytes of proof
//
// The exchange:
//
//	auditor/owner                          provider
//	request frame [+ tags]       ───────►
//	CloseWrite                   ───────►
//	                             ◄───────  Reply{code, length, text}
//	                             ◄───────  length bytes of proof (challenges, code OK)
//	                             ◄───────  Close
//
// A Merkle proof is merkle.Proof's MarshalBinary encoding; a compact proof
// is compact.Proof's Encode. The provider answers a request it cannot
// parse, or one outside the bounds above, with BadRequest and closes the
// stream (Close, not Reset, so that the reply arrives; the closed read
// side fails the peer's further writes as a reset would), and goes on
// serving other streams.
//
// # Provider
//
// PutTags: the provider checks, before reading a byte of the body, that
// it holds the shard, that length is exactly compact.TagsSize of its size
// (SizeMismatch otherwise) and, if ServerOptions.AcceptTags is set, that
// it takes tags from this peer (Refused). It then reads the tags, checks
// that they decode (BadRequest if not) and keeps them as sidecar
// TagsSidecar(remote peer), replacing earlier ones from the same peer.
//
// Merkle: the provider loads the sidecar OutboardSidecar, or, if there is
// none (or it does not decode or names another shard), reads the whole
// shard once to build one (merkle.OutboardWriter), answers Corrupt if its
// root is not the shard ID, and stores it. Then merkle.Prove, which reads
// one 16 KiB group per challenged leaf and answers Corrupt if a group
// disagrees with the outboard. Server.Prepare builds the outboard ahead of
// time: the auditor's deadline does not allow for reading a whole shard.
//
// Compact: the provider rebuilds the challenge (compact.NewChallenge) from
// the seed, c and targets, and for each target in order loads the
// challenger's tags (NoTags if absent), opens the shard (NotFound;
// SizeMismatch if its size is not the one stated) and folds it into one
// proof (compact.Prover).
//
// # Codes
//
// Append-only: a number keeps its meaning forever.
//
//	code name          meaning                                          audit outcome
//	0    OK            proof (or nothing, for PutTags) follows          Pass if it verifies, else Fail
//	1    NotFound      shard not held                                   Fail
//	2    Corrupt       held bytes do not hash to the shard ID           Fail
//	3    NoTags        no tags from this owner for a target             Fail
//	4    BadRequest    malformed or out-of-bounds request               Fail
//	5    SizeMismatch  tags or a stated size do not fit the shard       Fail
//	6    Internal      provider failure; detail only in its log         Fail
//	7    Busy          at MaxConcurrent; try later                      Missed
//	8    Unavailable   the provider's store is closed                   Missed
//	9    Timeout       the provider's own deadline passed               Missed
//	10   Refused       tags from this peer not accepted (PutTags only)  -
//
// # Outcomes
//
// Pass: a proof that verifies, read in full before the deadline. Fail: an
// answer that shows the provider cannot prove: a proof that does not
// verify (another seed's, another shard's, wrong bytes), a malformed
// proof, a proof announced or sent larger than the challenge allows, a
// stream that ends cleanly inside the proof, an unknown code, or the codes
// marked Fail above. Missed: no answer before the deadline: the peer is
// unreachable or does not serve the protocol, the stream is reset or ends
// without a reply, the proof has not arrived in full by the deadline (even
// if it would verify), or Busy, Unavailable, Timeout. Aborted: the
// auditor's own ctx ended first, or the challenge was outside the
// protocol's bounds; it says nothing about the provider.
//
// The auditor never reads more than the bound: merkle.MaxProofSize of the
// number of distinct leaves the seed selects, or exactly
// compact.ProofSize; it refuses a larger announced length before reading
// any proof byte, and reads at most one byte past the announced length to
// see that the provider stopped there.
//
// # Deadlines
//
// The auditor's deadline for a challenge is its Budget:
//
//	Base + Reads*PerRead + ReadBytes/ReadRate + ProofBytes/NetRate
//	defaults: 2 s, 10 ms per random read, 8 MiB/s disk, 1 MiB/s uplink
//
// where Reads is one per challenged 16 KiB group (at most c and at most
// the shard's groups) plus the outboard for Merkle, and one per
// challenged 6200-byte block plus the tag file per target for compact;
// ReadBytes what those reads return; ProofBytes the largest proof the
// challenge allows. For a 64 MiB shard at c = 459 that is 8.3 s (Merkle)
// and 7.0 s (compact); see Budget for the reasoning. The provider sets its
// own stream deadline to its Timeout (default 10 s) plus the same budget
// (plus the whole shard at ReadRate for Merkle, in case it must build the
// outboard), and stops reading the shard when it passes.
//
// Every other wait is bounded too: a request must arrive within the
// server's Timeout; PutTags within Timeout plus the tags at MinRate
// (default 256 KiB/s); at most MaxConcurrent (default 16) requests are
// served at once, the rest answered Busy.
package auditproto
