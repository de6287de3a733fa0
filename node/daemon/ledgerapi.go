package daemon

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/daemon/api"
	"github.com/dsn-project/dsn/node/p2p"
)

func (d *Daemon) ledgerOr404(w http.ResponseWriter) *ledger.Log {
	if d.book == nil {
		writeError(w, http.StatusNotFound, api.CodeNoLedger, "this node keeps no ledger")
		return nil
	}
	return d.book.Log()
}

// Balance folds a log into the API's accounts.
func Balance(l *ledger.Log) (*api.Balance, error) {
	accts, err := l.Balance()
	if err != nil {
		return nil, err
	}
	b := &api.Balance{Self: l.Owner().String(), Entries: l.Size(), Accounts: []api.Account{}}
	for _, a := range accts {
		b.Accounts = append(b.Accounts, api.Account{
			Party: a.Party.String(), SpaceEarned: a.SpaceEarned, BytesServed: a.BytesServed, BandwidthEarned: a.BandwidthEarned,
			Penalties: a.Penalties, Forfeits: a.Forfeits, ForfeitsReceived: a.ForfeitsReceived,
			SpaceOwed: a.SpaceOwed, BandwidthOwed: a.BandwidthOwed, Compensation: a.Compensation,
		})
	}
	return b, nil
}

// Entries reads up to limit entries of l from index from.
func Entries(l *ledger.Log, from, limit int64) (*api.Entries, error) {
	size := l.Size()
	out := &api.Entries{Size: size, Entries: []api.Entry{}}
	for i := from; i < size && i < from+limit; i++ {
		raw, err := l.Entry(i)
		if err != nil {
			return nil, err
		}
		e, err := ledger.DecodeEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		fields, err := json.Marshal(entryFields(e))
		if err != nil {
			return nil, err
		}
		out.Entries = append(out.Entries, api.Entry{Index: i, Kind: e.Kind().String(), Fields: fields})
	}
	return out, nil
}

// Prove returns the inclusion proof of entry i of l.
func Prove(l *ledger.Log, i int64) (*api.Proof, error) {
	p, err := l.ProveInclusion(i)
	if err != nil {
		return nil, err
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &api.Proof{Index: i, Checkpoint: string(p.Checkpoint), Proof: base64.StdEncoding.EncodeToString(b)}, nil
}

func (d *Daemon) handleLedgerBalance(w http.ResponseWriter, r *http.Request) {
	l := d.ledgerOr404(w)
	if l == nil {
		return
	}
	b, err := Balance(l)
	if err != nil {
		writeError(w, http.StatusInternalServerError, api.CodeInternal, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (d *Daemon) handleLedgerEntries(w http.ResponseWriter, r *http.Request) {
	l := d.ledgerOr404(w)
	if l == nil {
		return
	}
	q := r.URL.Query()
	from, limit := int64(0), int64(100)
	for name, p := range map[string]*int64{"from": &from, "limit": &limit} {
		if s := q.Get(name); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 0 {
				writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%s=%q: want a number >= 0", name, s))
				return
			}
			*p = v
		}
	}
	limit = min(limit, api.MaxLedgerPage)
	es, err := Entries(l, from, limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, api.CodeInternal, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, es)
}

func (d *Daemon) handleLedgerVerify(w http.ResponseWriter, r *http.Request) {
	l := d.ledgerOr404(w)
	if l == nil {
		return
	}
	sum, err := l.Verify(r.Context())
	var ve *ledger.VerifyError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusConflict, api.CodeLedgerInvalid, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, api.CodeInternal, err.Error())
	default:
		writeJSON(w, http.StatusOK, api.Verified{Entries: sum.Entries, Checkpoints: sum.Checkpoints})
	}
}

func (d *Daemon) handleLedgerProve(w http.ResponseWriter, r *http.Request) {
	l := d.ledgerOr404(w)
	if l == nil {
		return
	}
	s := r.URL.Query().Get("index")
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil || i < 0 {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("index=%q: want an entry index", s))
		return
	}
	if i >= l.Size() {
		writeError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("entry %d: the ledger has %d", i, l.Size()))
		return
	}
	p, err := Prove(l, i)
	if err != nil {
		writeError(w, http.StatusInternalServerError, api.CodeInternal, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// entryFields renders an entry for people and JSON tools: keys, shards
// and signatures in hex rather than as arrays of numbers.
func entryFields(e ledger.Entry) any {
	h := func(b []byte) string { return hex.EncodeToString(b) }
	switch e := e.(type) {
	case *ledger.Deal:
		auditors := make([]string, len(e.Auditors))
		for i, a := range e.Auditors {
			auditors[i] = a.String()
		}
		return map[string]any{"shard": e.Shard.String(), "size": e.Size, "price_per_gib_month": e.PricePerGiBMonth,
			"price_per_gib": e.PricePerGiB, "start": e.Start, "end": e.End, "client": e.Client.String(),
			"provider": e.Provider.String(), "auditors": auditors, "client_sig": h(e.ClientSig[:]), "provider_sig": h(e.ProviderSig[:])}
	case *ledger.Receipt:
		return map[string]any{"provider": e.Provider.String(), "client": e.Client.String(), "shard": e.Shard.String(),
			"session": h(e.Session[:]), "seq": e.Seq, "bytes": e.Bytes, "client_sig": h(e.ClientSig[:])}
	case *ledger.Credit:
		return map[string]any{"provider": e.Provider.String(), "client": e.Client.String(), "auditor": e.Auditor.String(),
			"shard": e.Shard.String(), "epoch": e.Epoch, "epoch_seconds": e.EpochSeconds, "bytes": e.Bytes,
			"proof_digest": h(e.ProofDigest[:]), "auditor_sig": h(e.AuditorSig[:])}
	case *ledger.Penalty:
		return map[string]any{"provider": e.Provider.String(), "client": e.Client.String(), "auditor": e.Auditor.String(),
			"shard": e.Shard.String(), "epoch": e.Epoch, "epoch_seconds": e.EpochSeconds, "outcome": e.Outcome.String(),
			"amount": e.Amount, "auditor_sig": h(e.AuditorSig[:])}
	}
	return e
}

// maxDealsListed bounds the deals one GET /v1/deals returns.
const maxDealsListed = 100000

func (d *Daemon) handleDeals(w http.ResponseWriter, r *http.Request) {
	if d.ledgerOr404(w) == nil {
		return
	}
	now := time.Now()
	out := api.Deals{Deals: []api.Deal{}}
	for _, i := range d.book.DealInfos() {
		if len(out.Deals) == maxDealsListed {
			break
		}
		dl := i.Deal
		start, end := time.Unix(int64(dl.Start), 0), time.Unix(int64(dl.End), 0)
		status := i.State.Status.String()
		var forfeit uint64
		switch {
		case i.End != nil:
			status, forfeit = i.End.Reason.String(), i.End.Forfeit
		case now.Before(start):
			status = "pending"
		case !now.Before(end) && i.Live():
			status = "expired" // past its end; the ledger is told at the next renewal pass
		}
		out.Deals = append(out.Deals, api.Deal{
			Shard: dl.Shard.String(), Size: dl.Size, Client: d.partyString(dl.Client), Provider: d.partyString(dl.Provider),
			PricePerGiBMonth: dl.PricePerGiBMonth, PricePerGiB: dl.PricePerGiB, Collateral: dl.Collateral,
			Start: start.UTC().Format(time.RFC3339), End: end.UTC().Format(time.RFC3339), Status: status,
			Failures: i.State.Failures, Forfeit: forfeit,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// partyString names a ledger party by its peer ID when it has one, as
// every node does (its ledger key is its identity key).
func (d *Daemon) partyString(k ledger.PublicKey) string {
	if p, err := p2p.PeerIDOf(k[:]); err == nil {
		return d.opts.PeerString(p)
	}
	return k.String()
}
