package api

import "encoding/json"

// Paths of the ledger's endpoints.
const (
	PathLedgerBalance = "/v1/ledger/balance"
	PathLedgerEntries = "/v1/ledger/entries"
	PathLedgerVerify  = "/v1/ledger/verify"
	PathLedgerProve   = "/v1/ledger/prove"
)

// MaxLedgerPage bounds the entries one GET /v1/ledger/entries returns.
const MaxLedgerPage = 1000

// Account is one party's balance in nano-units, as the node's ledger
// shows it (ledger.Account).
type Account struct {
	Party           string `json:"party"`
	SpaceEarned     uint64 `json:"space_earned"`
	BytesServed     uint64 `json:"bytes_served"`
	BandwidthEarned uint64 `json:"bandwidth_earned"`
	// Penalties include Forfeits.
	Penalties uint64 `json:"penalties"`
	// Forfeits is collateral the party lost as a provider when a deal
	// failed; ForfeitsReceived, collateral it received as a client.
	Forfeits         uint64 `json:"forfeits"`
	ForfeitsReceived uint64 `json:"forfeits_received"`
	SpaceOwed        uint64 `json:"space_owed"`
	BandwidthOwed    uint64 `json:"bandwidth_owed"`
	Compensation     uint64 `json:"compensation"`
}

// Balance is the answer to GET /v1/ledger/balance.
type Balance struct {
	// Self is this node's ledger key (hex).
	Self     string    `json:"self"`
	Entries  int64     `json:"entries"`
	Accounts []Account `json:"accounts"`
}

// Entry is one ledger entry: its index, kind, and fields as JSON.
type Entry struct {
	Index  int64           `json:"index"`
	Kind   string          `json:"kind"`
	Fields json.RawMessage `json:"fields"`
}

// Entries is the answer to GET /v1/ledger/entries?from=N&limit=M.
type Entries struct {
	Size    int64   `json:"size"`
	Entries []Entry `json:"entries"`
}

// Verified is the answer to POST /v1/ledger/verify when the log checks
// out; a log that does not is answered with code ledger_invalid, whose
// message names the first bad index.
type Verified struct {
	Entries     int64 `json:"entries"`
	Checkpoints int64 `json:"checkpoints"`
}

// Proof is the answer to GET /v1/ledger/prove?index=I: an inclusion
// proof another node can check with the prover's key.
type Proof struct {
	Index int64 `json:"index"`
	// Checkpoint is the signed checkpoint the proof is against.
	Checkpoint string `json:"checkpoint"`
	// Proof is the whole proof (ledger.InclusionProof's binary form),
	// base64.
	Proof string `json:"proof"`
}

// CodeLedgerInvalid: the node's ledger failed verification.
const CodeLedgerInvalid = "ledger_invalid"

// CodeNoLedger: the node keeps no ledger.
const CodeNoLedger = "no_ledger"

// PathDeals lists the deals in the node's ledger.
const PathDeals = "/v1/deals"

// Deal is one deal of the node's, as GET /v1/deals lists them.
type Deal struct {
	Shard            string `json:"shard"`
	Size             uint64 `json:"size"`
	Client           string `json:"client"`
	Provider         string `json:"provider"`
	PricePerGiBMonth uint64 `json:"price_per_gib_month"`
	PricePerGiB      uint64 `json:"price_per_gib"`
	Start            string `json:"start"`
	End              string `json:"end"`
	// Collateral is what the provider stakes for the shard, in
	// nano-units.
	Collateral uint64 `json:"collateral"`
	// Status is the deal's state from its ledger entries: "accepted"
	// (countersigned, not proven yet), "active" (an audit passed),
	// "failed", "expired", "cancelled" or "renewed"; "pending" for a
	// renewal that has not started.
	Status string `json:"status"`
	// Failures counts the audits failed or missed in a row.
	Failures int `json:"failures,omitempty"`
	// Forfeit is the collateral paid to the client when the deal failed.
	Forfeit uint64 `json:"forfeit,omitempty"`
}

// Deals is the answer to GET /v1/deals.
type Deals struct {
	Deals []Deal `json:"deals"`
}
