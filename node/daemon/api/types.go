package api

import "encoding/json"

// Paths of the API's endpoints.
const (
	PathStore    = "/v1/store"
	PathRetrieve = "/v1/retrieve"
	PathStatus   = "/v1/status"
	PathAudit    = "/v1/audit"
	PathRepair   = "/v1/repair"
	PathFiles    = "/v1/files"
)

// MediaEvents is the media type of an answer streamed as events, one JSON
// Event per line. A request asks for it in its Accept header; the answer's
// status is then 200 whatever the outcome, and the last event says what it
// was.
const MediaEvents = "application/x-ndjson"

// StoreRequest is the body of POST /v1/store (as application/json) when the
// daemon reads the file itself, which spares copying every byte through
// the API. Path is a path on the daemon's machine and must be absolute.
// The other form of the request sends the file's bytes as the body
// (application/octet-stream), with k, m and public in the query.
type StoreRequest struct {
	Path string `json:"path"`
	// K and M are the code; one left out takes the daemon's default. They
	// are pointers so that an explicit 0 (m = 0: no parity) is told
	// apart from a field left out.
	K      *int `json:"k,omitempty"`
	M      *int `json:"m,omitempty"`
	Public bool `json:"public,omitempty"`
	// MaxPrice is the most paid per GiB-month, in nano-units (0: the
	// daemon's limit); providers asking more are passed over.
	MaxPrice uint64 `json:"max_price,omitempty"`
}

// Progress is how far a store or retrieval has come.
type Progress struct {
	// Done is the number of the file's bytes read (store) or written and
	// verified (retrieve).
	Done int64 `json:"done"`
	// Stored is, for a store, the number of shard bytes providers have
	// acknowledged: k/(k+m) of it is the part of the file that is safe.
	Stored int64 `json:"stored,omitempty"`
	// Total is the file's size, or -1 while it is not known.
	Total int64 `json:"total"`
}

// Event is one line of an answer streamed as MediaEvents: progress while
// the work runs, then exactly one of Result and Error, as the last line.
type Event struct {
	Progress *Progress `json:"progress,omitempty"`
	// Result is the endpoint's result (StoreResult, RetrieveResult).
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
	// Status is, with Error, the HTTP status the error would have had.
	Status int `json:"status,omitempty"`
}

// StoreResult is the answer to POST /v1/store.
type StoreResult struct {
	// Reference is everything needed to retrieve the file; it includes the
	// file's key unless the file was stored public.
	Reference string `json:"reference"`
	// Root is the plaintext file's root CID.
	Root string `json:"root"`
	// Size is the file's length in bytes.
	Size int64 `json:"size"`
	// Segments is the number of erasure-coded segments.
	Segments int `json:"segments"`
	K        int `json:"k"`
	M        int `json:"m"`
	// Stored is the number of shard bytes providers acknowledged.
	Stored int64 `json:"stored"`
}

// RetrieveRequest is the body of POST /v1/retrieve. The daemon writes the
// file itself, so Path is a path on the daemon's machine and must be
// absolute.
type RetrieveRequest struct {
	Reference string `json:"reference"`
	Path      string `json:"path"`
	// Force replaces an existing file at Path.
	Force bool `json:"force"`
}

// RetrieveResult is the answer to POST /v1/retrieve.
type RetrieveResult struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Root string `json:"root"`
}

// AuditRequest is the body of POST /v1/audit: challenge the holder of
// every shard of a file now.
type AuditRequest struct {
	Reference string `json:"reference"`
	// Scheme is "merkle" or "compact"; "" picks compact for a file this
	// node stored (it holds the tags' key) and merkle otherwise.
	Scheme string `json:"scheme,omitempty"`
}

// RepairRequest is the body of POST /v1/repair: audit a file now, rebuild
// every shard that did not pass, and publish the repaired manifest as a new
// version. Reference is a reference to a file this node stored, or a
// repair capability (dsn-repair:...) of any file, or a private file's
// reference, which yields one.
type RepairRequest struct {
	Reference string `json:"reference"`
	// PrintCap asks only for the file's repair capability, which the
	// answer's Cap carries; nothing is audited or repaired.
	PrintCap bool `json:"print_cap,omitempty"`
}

// SegmentRepair is what a repair did to one segment.
type SegmentRepair struct {
	Segment int `json:"segment"`
	// Healthy is the number of shards that passed their audit before.
	Healthy int `json:"healthy"`
	// Rebuilt are the shards rebuilt, each on the provider at the same
	// index of Placed.
	Rebuilt []int    `json:"rebuilt"`
	Placed  []string `json:"placed"`
}

// RepairResult is the answer to POST /v1/repair.
type RepairResult struct {
	Manifest string          `json:"manifest"`
	Segments []SegmentRepair `json:"segments"`
	// Version is the sequence number of the manifest version published
	// after the repair; 0 when nothing was published.
	Version uint64 `json:"version,omitempty"`
	// Cap is the file's repair capability, when PrintCap asked for it.
	Cap string `json:"cap,omitempty"`
}

// Outcomes of a challenge, as ShardAudit.Result and FileShard.Result say.
const (
	ResultPass   = "pass"
	ResultFail   = "fail"
	ResultMissed = "missed"
	// ResultAborted: the auditor could not run the challenge (it was
	// shutting down, say); it says nothing about the provider.
	ResultAborted = "aborted"
)

// ShardAudit is the outcome of challenging the holder of one shard.
type ShardAudit struct {
	Segment  int    `json:"segment"`
	Shard    int    `json:"shard"`
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Scheme   string `json:"scheme"`
	Result   string `json:"result"`
	// Reason says why a challenge did not pass.
	Reason string `json:"reason,omitempty"`
	// LatencyMS is the time from challenge to the verified answer.
	LatencyMS  float64 `json:"latency_ms"`
	ProofBytes int     `json:"proof_bytes"`
}

// AuditResult is the answer to POST /v1/audit.
type AuditResult struct {
	Manifest string       `json:"manifest"`
	Shards   []ShardAudit `json:"shards"`
}

// FileShard is the audit history of one shard of a stored file.
type FileShard struct {
	Segment  int    `json:"segment"`
	Shard    int    `json:"shard"`
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Passes   uint64 `json:"passes"`
	Fails    uint64 `json:"fails"`
	Misses   uint64 `json:"misses"`
	// The latest audit; Result is "" if the shard was never audited.
	Epoch      uint64  `json:"epoch,omitempty"`
	Time       string  `json:"time,omitempty"`
	Scheme     string  `json:"scheme,omitempty"`
	Result     string  `json:"result,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	LatencyMS  float64 `json:"latency_ms,omitempty"`
	ProofBytes int     `json:"proof_bytes,omitempty"`
}

// File is one file this node stored, with its shards' audit health.
type File struct {
	// Manifest is the manifest CID: the reference without its key.
	Manifest string      `json:"manifest"`
	Size     int64       `json:"size"`
	Stored   string      `json:"stored"`
	K        int         `json:"k"`
	M        int         `json:"m"`
	Shards   []FileShard `json:"shards"`
	// Healthy counts the shards whose latest audit passed.
	Healthy int `json:"healthy"`
}

// Files is the answer to GET /v1/files.
type Files struct {
	Files []File `json:"files"`
}

// Status is the answer to GET /v1/status.
type Status struct {
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
	// Peers are the peers this node is connected to.
	Peers []string `json:"peers"`
	// RoutingTable is the number of peers in the DHT routing table.
	RoutingTable int `json:"routing_table"`
	// Provider says whether this node keeps shards for others.
	Provider bool `json:"provider"`
	// Shards, Used and Capacity describe the shard store (all zero when the
	// node is not a provider); Free is Capacity - Used.
	Shards   int64 `json:"shards"`
	Used     int64 `json:"used"`
	Capacity int64 `json:"capacity"`
	Free     int64 `json:"free"`
	// LedgerEntries is the size of the node's ledger; Witnessed the number
	// of other nodes whose checkpoints it keeps; Distrusted the nodes it
	// holds evidence of a rewritten history against.
	LedgerEntries int64    `json:"ledger_entries"`
	Witnessed     int      `json:"witnessed"`
	Distrusted    []string `json:"distrusted,omitempty"`
}

// Error is the body of every answer whose status is not 2xx.
type Error struct {
	// Code is a stable, machine-readable name for the kind of failure.
	Code string `json:"code"`
	// Message says what went wrong, for people.
	Message string `json:"message"`
}

// Error codes. The list only grows.
const (
	CodeBadRequest       = "bad_request"
	CodeTooLarge         = "too_large"
	CodeNotFound         = "not_found"
	CodeMethod           = "method_not_allowed"
	CodeForbidden        = "forbidden"
	CodeExists           = "exists"
	CodeNotEnoughPeers   = "not_enough_providers"
	CodeNotEnoughShards  = "not_enough_shards"
	CodeManifestNotFound = "manifest_not_found"
	CodeIntegrity        = "integrity"
	CodeCanceled         = "canceled"
	CodeInternal         = "internal"
	// CodeUnauthorized: the request lacks the daemon's API token.
	CodeUnauthorized = "unauthorized"
	// CodeBusy: the daemon runs as many transfers as it allows.
	CodeBusy = "busy"
	// CodeUnreadable: the daemon cannot read the file it was asked to
	// store (the file is not there, or its permissions keep the daemon's
	// user out); a client may send the bytes instead.
	CodeUnreadable = "unreadable"
)
