// Package ledgerproto is the ledger protocol, Protocol =
// "/dsn/ledger/1.0.0": how nodes hand each other signed ledger entries
// and the proofs that keep each node's log honest. A client proposes a
// deal to its provider and gets it back countersigned; a client submits
// receipts, an auditor credits and penalties, a client or auditor the End
// of a deal, to the provider whose log records them; anyone fetches a node's latest checkpoint, consistency
// proofs between two of its sizes, and inclusion proofs of its entries.
//
// It owns the wire format, the server (Server, which answers from a
// Handler), the client calls (ProposeDeal, Submit, FetchCheckpoint,
// FetchConsistency, FetchInclusion) and the mapping between the
// ledger's errors and stable wire codes. It does not own the entries,
// their encoding, signatures, rules, checkpoints or proof checks
// (package ledger), converting peer IDs to ledger keys, deciding which
// deals to sign, or when to ask for proofs (package node: the Handler).
//
// # Frames
//
// One stream per request. Every message is a frame: a uvarint length
// (minimal LEB128) and a body of that many bytes, 1 to MaxRequestSize
// (4100) for the request that opens a stream and 1 to MaxReplySize
// (9506) for the reply. The body's first byte is its type; numbers are
// minimal uvarints; a body must be consumed exactly. Entries are the
// ledger's canonical encoding (ledger.Marshal), decoded by the server
// with ledger.DecodeEntry.
//
//	type 1  ProposeDeal       entry length (uvarint, 1..4096) | entry (a Deal, signed by its client)
//	type 2  Submit            entry length (uvarint, 1..4096) | entry (a Receipt, Credit, Penalty or End)
//	type 3  GetCheckpoint     (nothing)
//	type 4  ProveConsistency  old (uvarint, 0..2^62) | new (uvarint, old..2^62)
//	type 5  ProveInclusion    index (uvarint, 0..2^62-1)
//	type 6  Reply             code (uvarint) | text length (uvarint, 0..256) | text (UTF-8) |
//	                          payload length (uvarint; 0 unless code is OK) | payload
//
// The payload of an OK reply depends on the request, and the client
// refuses a longer one before reading it (it reads at most the reply
// frame that bound allows):
//
//	request           payload                                             bound (bytes)
//	ProposeDeal       the deal signed by both (ledger.Marshal)           ledger.MaxEntrySize = 4096
//	Submit            nothing                                             0
//	GetCheckpoint     the signed checkpoint note                          ledger.MaxCheckpointSize = 1024
//	ProveConsistency  ledger.EncodeTreeProof (count, 32-byte hashes)      MaxTreeProofSize = 2 + 128×32 = 4098
//	ProveInclusion    ledger.InclusionProof.MarshalBinary                 ledger.MaxInclusionProofSize = 9233
//
// The exchange:
//
//	client                                 server
//	request frame                ───────►
//	CloseWrite                   ───────►
//	                             ◄───────  Reply{code, text, payload}
//	                             ◄───────  Close
//
// The server answers a request it cannot parse, one outside the bounds
// above, an entry that ledger.DecodeEntry refuses, or an entry of the
// wrong kind (a receipt proposed as a deal, a deal submitted) with
// BadRequest, and closes the stream (Close, not Reset, so that the reply
// arrives), and goes on serving other streams.
//
// # What each side checks
//
// The server checks the framing and bounds and decodes the entry; the
// Handler checks the rest: that the stream's remote peer is the party
// who signed (the deal's client, the receipt's client, the credit's or
// penalty's auditor, the End's signer), the signatures, and the ledger's rules (Log.Append
// does). The client checks what comes back: a countersigned deal must be
// the proposed deal byte for byte but for the provider signature, which
// must verify by the deal's provider key (ledger.CheckSignatures;
// ErrDealChanged, ledger.ErrBadSignature); a checkpoint must parse and be
// signed by the node it names (ledger.ParseCheckpoint; the caller then
// compares the node with ledger.VerifyCheckpoint); a tree proof and an
// inclusion proof must decode strictly, and the inclusion proof be for
// the index asked (ErrWrongEntry). Checking proofs against checkpoints
// is the caller's, with ledger.CheckConsistency and ledger.CheckInclusion.
//
// # Codes
//
// Append-only: a number keeps its meaning forever. The server picks the
// code from the Handler's error with errors.Is, in the order below
// (Timeout first, then BadRequest, ...); the client's error matches the
// sentinel in the last column, and every code marked R also matches
// ErrRefused (do not resend) and D also ErrDuplicate (already logged).
//
//	code name             handler error (errors.Is)                        client error
//	0    OK               nil                                              nil
//	1    BadRequest       wire error; ledger.ErrMalformed, ErrTooLarge,    ErrBadRequest
//	                      ErrVersion
//	2    Refused          ErrRefused (the node's own reason, in the text)  ErrRefused          R
//	3    BadSignature     ledger.ErrBadSignature, ledger.ErrWrongKey       ledger.ErrBadSignature  R
//	4    NoDeal           ledger.ErrNoDeal                                 ledger.ErrNoDeal    R
//	5    Duplicate        ledger.ErrDuplicateOutcome                       ledger.ErrDuplicateOutcome  R D
//	6    NotFound         ledger.ErrNotFound                               ledger.ErrNotFound
//	7    Busy             (at MaxConcurrent; request not read)             ErrBusy
//	8    Internal         anything else; text not sent, only logged        ErrRemoteInternal
//	9    Timeout          context.DeadlineExceeded, os.ErrDeadlineExceeded ErrRemoteTimeout
//	10   Sequence         ledger.ErrSequence                               ledger.ErrSequence  R D
//	11   DealOverlap      ledger.ErrDealOverlap                            ledger.ErrDealOverlap  R
//	12   SelfDealing      ledger.ErrSelfDealing                            ledger.ErrSelfDealing  R
//	13   NotParty         ledger.ErrNotParty                               ledger.ErrNotParty  R
//	14   NotAuditor       ledger.ErrNotAuditor                             ledger.ErrNotAuditor  R
//	15   Terms            ledger.ErrTerms                                  ledger.ErrTerms     R
//	16   BytesDecreased   ledger.ErrBytesDecreased                         ledger.ErrBytesDecreased  R
//	17   SessionMismatch  ledger.ErrSessionMismatch                        ledger.ErrSessionMismatch  R
//	18   Unavailable      ledger.ErrClosed                                 ErrUnavailable
//	19   DealEnded        ledger.ErrDealEnded                              ledger.ErrDealEnded  R
//
// Duplicate and Sequence are the two ways a log says it has the entry
// already: a second credit or penalty for one deal and epoch, and a
// receipt whose sequence number is not above the session's latest (a
// replay, or one superseded by a later receipt). They stay two codes so
// that the ledger's own sentinel survives the trip, and share
// ErrDuplicate so that a client resending after a lost reply can treat
// both as done. The rule codes 11 to 17 and 19 each carry one ledger
// sentinel for the same reason.
//
// Entries carry their own format version (ledger.Version, 2 since deals
// carry collateral and End exists), so the protocol's ID did not change
// with it: a peer of another entry version answers BadRequest with a
// text naming the version, which says more than a failed protocol
// negotiation would. An unknown code is ErrUnknownCode.
//
// # Deadlines and limits
//
// The client bounds each exchange, from opening the stream to the last
// reply byte, by Client.Timeout (default 10 s) or its ctx's deadline if
// sooner; past it the stream is reset and the error matches
// context.DeadlineExceeded. The server bounds each stream the same way
// by ServerOptions.Timeout (default 10 s): the request must arrive, the
// Handler (whose ctx ends then) answer and the reply be written within
// it. At most MaxConcurrent (default 32) requests are served at once;
// the rest are answered Busy without being read.
package ledgerproto
