package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dsn-project/dsn/internal/atomicfile"
)

// AddrFile is the name, inside a repo, of the file holding the address of
// the running daemon's API ("127.0.0.1:port").
const AddrFile = "api"

// TokenFile is the name, inside a repo, of the file holding the running
// daemon's API token. Loopback keeps other machines out, not other users of
// this one: every request carries the token, which only the repo's owner
// can read (mode 0600).
const TokenFile = "api.token"

// ErrNoDaemon is returned by Dial when no daemon answers for the repo: there
// is no api file, or the address in it does not answer.
var ErrNoDaemon = errors.New("no daemon running for this repo")

// maxAnswer bounds the size of an answer the client reads. The largest
// are lists the daemon bounds by count, not bytes: up to 100,000 deals,
// about 300 bytes each, and up to 10,000 files, each with its shards. An
// answer over the bound is an error that says so, never a list cut short.
// A variable so that tests can lower it.
var maxAnswer = 256 << 20

// pingTimeout bounds how long Dial waits for a daemon to answer.
const pingTimeout = 3 * time.Second

// RemoteError is an error answer from the daemon.
type RemoteError struct {
	Status  int    // HTTP status
	Code    string // one of the Code constants
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Client calls one daemon's API.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client for the API at addr (host:port) that presents token.
func New(addr, token string) *Client {
	return &Client{
		base:  "http://" + addr,
		token: token,
		hc: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // the API is on loopback; no proxy applies
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 4,
			DisableCompression:  true,
		}},
	}
}

// Addr returns the address the client calls.
func (c *Client) Addr() string { return strings.TrimPrefix(c.base, "http://") }

// ReadAddr returns the API address recorded in repoDir, or ErrNoDaemon if
// there is none.
func ReadAddr(repoDir string) (string, error) {
	b, err := atomicfile.ReadBounded(filepath.Join(repoDir, AddrFile), maxAPIFile)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", repoDir, ErrNoDaemon)
	}
	if err != nil {
		return "", fmt.Errorf("read api address: %w", err)
	}
	addr := strings.TrimSpace(string(b))
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return "", fmt.Errorf("api file in %s holds %q, not a host:port address", repoDir, addr)
	}
	return addr, nil
}

// maxAPIFile bounds what ReadAddr and ReadToken read: each file is one
// short line.
const maxAPIFile = 1 << 10

// ReadToken returns the API token recorded in repoDir: printable ASCII
// without spaces, as it goes into a request header.
func ReadToken(repoDir string) (string, error) {
	b, err := atomicfile.ReadBounded(filepath.Join(repoDir, TokenFile), maxAPIFile)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: no %s: %w", repoDir, TokenFile, ErrNoDaemon)
	}
	if err != nil {
		return "", fmt.Errorf("read api token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return "", fmt.Errorf("%s in %s does not hold a token (one line of printable ASCII)", TokenFile, repoDir)
	}
	return token, nil
}

// Dial finds the daemon of the repo at repoDir and checks that it answers.
// It returns ErrNoDaemon (wrapped) when none does, so callers can fall back
// to running without one.
func Dial(ctx context.Context, repoDir string) (*Client, error) {
	addr, err := ReadAddr(repoDir)
	if err != nil {
		return nil, err
	}
	token, err := ReadToken(repoDir)
	if err != nil {
		return nil, err
	}
	c := New(addr, token)
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := c.Status(ctx); err != nil {
		var re *RemoteError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("daemon at %s: %w", addr, err)
		}
		return nil, fmt.Errorf("%w: api address %s does not answer (a stale api file?): %v", ErrNoDaemon, addr, err)
	}
	return c, nil
}

// Status asks the daemon for its status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+PathStatus, nil)
	if err != nil {
		return nil, err
	}
	var s Status
	if err := c.do(req, &s, nil); err != nil {
		return nil, wrap("status", err)
	}
	return &s, nil
}

// StoreOptions are the parameters of a store.
type StoreOptions struct {
	K, M     int // 0, 0: the daemon's defaults
	Public   bool
	MaxPrice uint64 // nano-units per GiB-month; 0: the daemon's limit
}

// StoreFile asks the daemon to store the file at path, which it reads
// itself: path must be absolute and readable by the daemon's user (a
// RemoteError with CodeUnreadable says it is not; Store can send the bytes
// instead). progress, if not nil, is called as the store advances.
func (c *Client) StoreFile(ctx context.Context, path string, opts StoreOptions, progress func(Progress)) (*StoreResult, error) {
	sr := StoreRequest{Path: path, Public: opts.Public, MaxPrice: opts.MaxPrice}
	if opts.K != 0 || opts.M != 0 {
		// Both, as the query form sends them: m = 0 is a code too.
		sr.K, sr.M = &opts.K, &opts.M
	}
	body, err := json.Marshal(sr)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathStore, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var res StoreResult
	if err := c.do(req, &res, progress); err != nil {
		return nil, wrap("store", err)
	}
	return &res, nil
}

// Store sends the bytes of r to the daemon, which stores them on the
// network. r is streamed, never held whole; size is its length if known
// (-1 if not), so the daemon can refuse a file that is too large up front.
// progress, if not nil, is called as the store advances.
func (c *Client) Store(ctx context.Context, r io.Reader, size int64, opts StoreOptions, progress func(Progress)) (*StoreResult, error) {
	q := url.Values{}
	if opts.K != 0 || opts.M != 0 {
		q.Set("k", strconv.Itoa(opts.K))
		q.Set("m", strconv.Itoa(opts.M))
	}
	if opts.Public {
		q.Set("public", "true")
	}
	if opts.MaxPrice != 0 {
		q.Set("max_price", strconv.FormatUint(opts.MaxPrice, 10))
	}
	u := c.base + PathStore
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, io.NopCloser(r))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if size >= 0 {
		req.ContentLength = size
	}
	var res StoreResult
	if err := c.do(req, &res, progress); err != nil {
		return nil, wrap("store", err)
	}
	return &res, nil
}

// Retrieve asks the daemon to retrieve a file into a path on its machine.
// progress, if not nil, is called as the retrieval advances.
func (c *Client) Retrieve(ctx context.Context, rr RetrieveRequest, progress func(Progress)) (*RetrieveResult, error) {
	body, err := json.Marshal(rr)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathRetrieve, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var res RetrieveResult
	if err := c.do(req, &res, progress); err != nil {
		return nil, wrap("retrieve", err)
	}
	return &res, nil
}

// Audit asks the daemon to challenge the holder of every shard of a file
// now.
func (c *Client) Audit(ctx context.Context, ar AuditRequest) (*AuditResult, error) {
	body, err := json.Marshal(ar)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathAudit, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var res AuditResult
	if err := c.do(req, &res, nil); err != nil {
		return nil, wrap("audit", err)
	}
	return &res, nil
}

// Repair asks the daemon to audit a file it stored now and rebuild every
// shard that did not pass.
func (c *Client) Repair(ctx context.Context, rr RepairRequest) (*RepairResult, error) {
	body, err := json.Marshal(rr)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathRepair, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var res RepairResult
	if err := c.do(req, &res, nil); err != nil {
		return nil, wrap("repair", err)
	}
	return &res, nil
}

// Files lists the files this node stored with their shards' audit
// history; manifest, if not "", names one.
func (c *Client) Files(ctx context.Context, manifest string) (*Files, error) {
	u := c.base + PathFiles
	if manifest != "" {
		u += "?" + url.Values{"manifest": {manifest}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	var res Files
	if err := c.do(req, &res, nil); err != nil {
		return nil, wrap("files", err)
	}
	return &res, nil
}

// do sends req and decodes the answer into out. A *RemoteError is
// returned as is: its message already says what failed. With a progress
// function the answer is asked for as a stream of events.
func (c *Client) do(req *http.Request, out any, progress func(Progress)) error {
	req.Header.Set("Authorization", "Bearer "+c.token)
	if progress != nil {
		req.Header.Set("Accept", MediaEvents)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		re := &RemoteError{Status: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, int64(maxAnswer)))
		var e Error
		if json.Unmarshal(b, &e) != nil || e.Message == "" {
			e = Error{Code: CodeInternal, Message: fmt.Sprintf("daemon answered %s: %.200q", resp.Status, b)}
		}
		re.Code, re.Message = e.Code, e.Message
		return re
	}
	if progress != nil && resp.Header.Get("Content-Type") == MediaEvents {
		return readEvents(resp.Body, out, progress)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(maxAnswer)+1))
	if err != nil {
		return fmt.Errorf("read daemon answer: %w", err)
	}
	if len(b) > maxAnswer {
		return fmt.Errorf("daemon answer over %d MiB, more than this client reads", maxAnswer>>20)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode daemon answer: %w", err)
	}
	return nil
}

// readEvents reads an answer streamed as MediaEvents, handing progress to
// progress and the result to out. Each line is bounded; the stream as a
// whole is not, since a long transfer reports progress for as long as it
// runs.
func readEvents(r io.Reader, out any, progress func(Progress)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxAnswer)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("decode daemon event %.200q: %w", sc.Bytes(), err)
		}
		switch {
		case ev.Error != nil:
			status := ev.Status
			if status == 0 {
				status = http.StatusInternalServerError
			}
			return &RemoteError{Status: status, Code: ev.Error.Code, Message: ev.Error.Message}
		case ev.Result != nil:
			if err := json.Unmarshal(ev.Result, out); err != nil {
				return fmt.Errorf("decode daemon result: %w", err)
			}
			return nil
		case ev.Progress != nil:
			progress(*ev.Progress)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read daemon events: %w", err)
	}
	return errors.New("daemon's answer ended before its result")
}

func wrap(op string, err error) error {
	var re *RemoteError
	if errors.As(err, &re) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	return c.do(req, out, nil)
}

// LedgerBalance returns the balances the node's ledger shows.
func (c *Client) LedgerBalance(ctx context.Context) (*Balance, error) {
	var b Balance
	if err := c.get(ctx, PathLedgerBalance, nil, &b); err != nil {
		return nil, wrap("ledger balance", err)
	}
	return &b, nil
}

// LedgerEntries returns up to limit entries of the node's ledger from
// index from.
func (c *Client) LedgerEntries(ctx context.Context, from, limit int64) (*Entries, error) {
	var es Entries
	q := url.Values{"from": {strconv.FormatInt(from, 10)}, "limit": {strconv.FormatInt(limit, 10)}}
	if err := c.get(ctx, PathLedgerEntries, q, &es); err != nil {
		return nil, wrap("ledger entries", err)
	}
	return &es, nil
}

// LedgerVerify asks the node to verify its whole ledger.
func (c *Client) LedgerVerify(ctx context.Context) (*Verified, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathLedgerVerify, nil)
	if err != nil {
		return nil, err
	}
	var v Verified
	if err := c.do(req, &v, nil); err != nil {
		return nil, wrap("ledger verify", err)
	}
	return &v, nil
}

// LedgerProve returns the inclusion proof of entry i of the node's
// ledger.
func (c *Client) LedgerProve(ctx context.Context, i int64) (*Proof, error) {
	var p Proof
	if err := c.get(ctx, PathLedgerProve, url.Values{"index": {strconv.FormatInt(i, 10)}}, &p); err != nil {
		return nil, wrap("ledger prove", err)
	}
	return &p, nil
}

// Deals lists the deals in the node's ledger.
func (c *Client) Deals(ctx context.Context) (*Deals, error) {
	var d Deals
	if err := c.get(ctx, PathDeals, nil, &d); err != nil {
		return nil, wrap("deals", err)
	}
	return &d, nil
}

// PathMarketAsks lists the providers' asks the node has.
const PathMarketAsks = "/v1/market/asks"

// Ask is a provider's standing offer, as GET /v1/market/asks lists them.
type Ask struct {
	Provider         string `json:"provider"`
	PricePerGiBMonth uint64 `json:"price_per_gib_month"`
	PricePerGiB      uint64 `json:"price_per_gib"`
	CollateralPerGiB uint64 `json:"collateral_per_gib"`
	FreeCapacity     uint64 `json:"free_capacity"`
	ValidUntil       string `json:"valid_until"`
}

// Asks is the answer to GET /v1/market/asks.
type Asks struct {
	Asks []Ask `json:"asks"`
}

// MarketAsks lists the asks the node has from providers.
func (c *Client) MarketAsks(ctx context.Context) (*Asks, error) {
	var a Asks
	if err := c.get(ctx, PathMarketAsks, nil, &a); err != nil {
		return nil, wrap("market asks", err)
	}
	return &a, nil
}
