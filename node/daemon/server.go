package daemon

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/regfile"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/node/daemon/api"
	"github.com/dsn-project/dsn/node/owned"
	"github.com/dsn-project/dsn/proofs/compact"
)

// APIOptions bound the API's requests.
type APIOptions struct {
	// MaxStoreSize is the largest file a store accepts (0: 1 TiB).
	MaxStoreSize int64
	// Idle is how long a store's upload may stall before it is cut off
	// (0: one minute).
	Idle time.Duration
	// StatusTimeout bounds a status request (0: ten seconds).
	StatusTimeout time.Duration
	// TransferTimeout bounds a whole store or retrieve (0: 24 hours).
	TransferTimeout time.Duration
}

// Limits of the API.
const (
	maxHeaderBytes    = 16 << 10
	maxJSONRequest    = 64 << 10
	maxPath           = 4096
	maxReference      = 1024
	readHeaderTimeout = 10 * time.Second
	idleConnTimeout   = 2 * time.Minute
)

func (o *APIOptions) defaults() {
	if o.MaxStoreSize <= 0 {
		o.MaxStoreSize = 1 << 40
	}
	if o.Idle <= 0 {
		o.Idle = time.Minute
	}
	if o.StatusTimeout <= 0 {
		o.StatusTimeout = 10 * time.Second
	}
	if o.TransferTimeout <= 0 {
		o.TransferTimeout = 24 * time.Hour
	}
}

func (d *Daemon) newAPIServer(o APIOptions) *http.Server {
	o.defaults()
	d.opts.API = o
	mux := http.NewServeMux()
	// Each transfer holds a few segments in memory, so their number is
	// bounded; one over the bound is told to come back later.
	transfers := make(chan struct{}, maxTransfers)
	mux.Handle(api.PathStore, only(http.MethodPost, limited(transfers, d.handleStore)))
	mux.Handle(api.PathRetrieve, only(http.MethodPost, limited(transfers, d.handleRetrieve)))
	mux.Handle(api.PathStatus, only(http.MethodGet, d.handleStatus))
	mux.Handle(api.PathAudit, only(http.MethodPost, limited(transfers, d.handleAudit)))
	mux.Handle(api.PathFiles, only(http.MethodGet, d.handleFiles))
	mux.Handle(api.PathRepair, only(http.MethodPost, limited(transfers, d.handleRepair)))
	mux.Handle(api.PathDeals, only(http.MethodGet, d.handleDeals))
	mux.Handle(api.PathMarketAsks, only(http.MethodGet, d.handleAsks))
	mux.Handle(api.PathLedgerBalance, only(http.MethodGet, d.handleLedgerBalance))
	mux.Handle(api.PathLedgerEntries, only(http.MethodGet, d.handleLedgerEntries))
	mux.Handle(api.PathLedgerVerify, only(http.MethodPost, limited(transfers, d.handleLedgerVerify)))
	mux.Handle(api.PathLedgerProve, only(http.MethodGet, d.handleLedgerProve))
	// Profiles, for an operator on this machine: the API listens on
	// loopback only, and guard refuses what a browser could send.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return &http.Server{
		Handler:           guard(d.token, mux),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleConnTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// guard refuses requests a web browser could have been tricked into
// sending: a page on any site may POST to 127.0.0.1, and with DNS
// rebinding may even read the answer. Browsers always send Origin on such
// requests and use the page's host name in Host; dsn's client does
// neither.
//
// Before all that, a request must carry the daemon's token (api.TokenFile,
// readable only by the repo's owner): loopback keeps other machines out but
// not other users of this one, who could otherwise make the daemon write
// files wherever its owner can.
func guard(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, http.StatusUnauthorized, api.CodeUnauthorized, "missing or wrong API token (read it from the repo's "+api.TokenFile+")")
			return
		}
		if r.Header.Get("Origin") != "" {
			writeError(w, http.StatusForbidden, api.CodeForbidden, "requests from web pages are not allowed")
			return
		}
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if ip, err := netip.ParseAddr(host); (err != nil || !ip.IsLoopback()) && host != "localhost" {
			writeError(w, http.StatusForbidden, api.CodeForbidden, fmt.Sprintf("host %q is not a loopback address", r.Host))
			return
		}
		// Errors in the method or path are answered by the mux in JSON too.
		next.ServeHTTP(w, r)
	})
}

// maxTransfers bounds the stores and retrievals the API runs at once.
const maxTransfers = 4

// limited runs h if one of the slots is free, and answers 503 otherwise.
func limited(slots chan struct{}, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			h(w, r)
		default:
			writeError(w, http.StatusServiceUnavailable, api.CodeBusy, fmt.Sprintf("%d transfers are already running; try again when one ends", cap(slots)))
		}
	}
}

// only answers requests of one method, and others with a JSON error (the
// mux's own answer would be plain text).
func only(method string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, api.CodeMethod, fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, method))
			return
		}
		h(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.Error{Code: code, Message: msg})
}

// failure maps an error from the node to the status and code a caller can
// act on.
func failure(err error) (int, string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, api.CodeTooLarge
	case errors.Is(err, node.ErrExists):
		return http.StatusConflict, api.CodeExists
	case errors.Is(err, node.ErrFileTooLarge):
		return http.StatusRequestEntityTooLarge, api.CodeTooLarge
	case errors.Is(err, node.ErrOutputIsDir):
		return http.StatusBadRequest, api.CodeBadRequest
	case errors.Is(err, node.ErrNotEnoughProviders):
		return http.StatusServiceUnavailable, api.CodeNotEnoughPeers
	case errors.Is(err, node.ErrManifestNotFound):
		return http.StatusNotFound, api.CodeManifestNotFound
	case errors.Is(err, node.ErrNotEnoughShards):
		return http.StatusServiceUnavailable, api.CodeNotEnoughShards
	case errors.Is(err, node.ErrRootMismatch):
		return http.StatusBadGateway, api.CodeIntegrity
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, api.CodeCanceled
	}
	return http.StatusInternalServerError, api.CodeInternal
}

// idleReader extends the connection's read deadline on every read, so a
// store can take as long as the file needs but an upload that stalls is
// cut off.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	ir.rc.SetReadDeadline(time.Now().Add(ir.idle))
	return ir.r.Read(p)
}

// storeQuery reads k, m and public from the query of a store that sends
// the file's bytes as the body.
func storeQuery(q url.Values) (node.StoreOptions, error) {
	var opts node.StoreOptions
	for _, p := range []struct {
		name string
		v    *int
	}{{"k", &opts.K}, {"m", &opts.M}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return opts, fmt.Errorf("%s=%q is not a number", p.name, s)
		}
		*p.v = n
	}
	if s := q.Get("public"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return opts, fmt.Errorf("public=%q is not true or false", s)
		}
		opts.Public = b
	}
	if s := q.Get("max_price"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return opts, fmt.Errorf("max_price=%q is not a number of nano-units", s)
		}
		opts.MaxPrice = v
	}
	return opts, nil
}

// checkKM fills in the default of whichever of k and m is missing and
// checks the pair; 0, 0 leaves both to the node's defaults.
func checkKM(opts *node.StoreOptions, hasK, hasM bool) error {
	if hasK && !hasM {
		opts.M = node.DefaultM
	}
	if hasM && !hasK {
		opts.K = node.DefaultK
	}
	if opts.K != 0 || opts.M != 0 {
		return node.CheckKM(opts.K, opts.M)
	}
	return nil
}

// parseReference parses a reference a request names, answering 400 if
// it is not one.
func parseReference(w http.ResponseWriter, s string) (manifest.Reference, bool) {
	if len(s) > maxReference {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("reference of %d bytes, at most %d allowed", len(s), maxReference))
		return manifest.Reference{}, false
	}
	ref, err := manifest.ParseReference(s)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return manifest.Reference{}, false
	}
	return ref, true
}

// checkPath checks a path a request names on the daemon's machine.
func checkPath(p string) error {
	if p == "" || len(p) > maxPath || !filepath.IsAbs(p) {
		return fmt.Errorf("path %q: want an absolute path of at most %d bytes on the daemon's machine", p, maxPath)
	}
	return nil
}

// decodeJSON reads a small JSON request body into v, refusing unknown
// fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, api.CodeBadRequest, fmt.Sprintf("content type %q: want application/json", ct))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		status, code := http.StatusBadRequest, api.CodeBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status, code = http.StatusRequestEntityTooLarge, api.CodeTooLarge
		}
		writeError(w, status, code, fmt.Sprintf("%s request: %v", what, err))
		return false
	}
	return true
}

// handleStore stores a file the daemon reads itself (a JSON StoreRequest)
// or whose bytes are the request's body (application/octet-stream).
func (d *Daemon) handleStore(w http.ResponseWriter, r *http.Request) {
	max := d.opts.API.MaxStoreSize
	var opts node.StoreOptions
	var src io.Reader
	total := int64(-1)
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/json":
		var req api.StoreRequest
		if !decodeJSON(w, r, "store", &req) {
			return
		}
		opts = node.StoreOptions{Public: req.Public, MaxPrice: req.MaxPrice}
		if req.K != nil {
			opts.K = *req.K
		}
		if req.M != nil {
			opts.M = *req.M
		}
		if err := checkKM(&opts, req.K != nil, req.M != nil); err != nil {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
			return
		}
		if err := checkPath(req.Path); err != nil {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
			return
		}
		f, size, err := openRegular(filepath.Clean(req.Path))
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, api.CodeUnreadable, err.Error())
			return
		}
		defer f.Close()
		if size > max {
			writeError(w, http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("file of %d bytes is larger than the %d this node accepts", size, max))
			return
		}
		// A file that grows while it is read is cut at the size it had;
		// the root CID covers exactly the bytes stored.
		src, total = io.LimitReader(f, size), size
	case "application/octet-stream", "":
		q := r.URL.Query()
		var err error
		if opts, err = storeQuery(q); err == nil {
			err = checkKM(&opts, q.Has("k"), q.Has("m"))
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
			return
		}
		if r.ContentLength > max {
			writeError(w, http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("file of %d bytes is larger than the %d this node accepts", r.ContentLength, max))
			return
		}
		rc := http.NewResponseController(w)
		src = &idleReader{r: http.MaxBytesReader(w, r.Body, max), rc: rc, idle: d.opts.API.Idle}
		total = r.ContentLength
		// Progress is written while the body is still being read.
		if acceptsEvents(r) {
			if err := rc.EnableFullDuplex(); err != nil {
				d.log.Warn("api store: no full duplex; progress comes at the end", "err", err)
			}
		}
	default:
		writeError(w, http.StatusUnsupportedMediaType, api.CodeBadRequest, fmt.Sprintf("content type %q: want application/json (a path) or application/octet-stream (the bytes)", ct))
		return
	}
	d.answer(w, r, "store", func(ctx context.Context, report func(api.Progress)) (any, error) {
		opts.Progress = func(read, stored int64) { report(api.Progress{Done: read, Stored: stored, Total: total}) }
		res, err := d.client.Store(ctx, src, opts)
		if err != nil {
			return nil, err
		}
		// Reading is done; the read deadline set last must not cut off
		// the answer.
		http.NewResponseController(w).SetReadDeadline(time.Time{})
		m := res.Manifest
		d.log.Info("stored", "manifest", res.Reference.Manifest, "size", m.Size, "segments", len(m.Segments))
		if err := d.files.Add(ownedFile(res)); err != nil {
			// The file is on the network and its reference good; only
			// this node's audits would miss it, so say so and go on.
			d.log.Error("stored file not recorded for audits", "manifest", res.Reference.Manifest, "err", err)
		}
		return api.StoreResult{
			Reference: res.Reference.String(),
			Root:      m.Root.String(),
			Size:      m.Size,
			Segments:  len(m.Segments),
			K:         m.K,
			M:         m.M,
			Stored:    res.Stored,
		}, nil
	})
}

// openRegular opens a regular file for reading and returns its size. It
// never blocks on the file's type (a FIFO with no writer would otherwise
// hold the request, and its transfer slot, until one came).
func openRegular(path string) (*os.File, int64, error) {
	f, size, err := regfile.Open(path)
	if err != nil {
		if errors.Is(err, regfile.ErrNotRegular) {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("daemon cannot read the file: %w", err)
	}
	return f, size, nil
}

func (d *Daemon) handleRetrieve(w http.ResponseWriter, r *http.Request) {
	var req api.RetrieveRequest
	if !decodeJSON(w, r, "retrieve", &req) {
		return
	}
	ref, ok := parseReference(w, req.Reference)
	if !ok {
		return
	}
	if err := checkPath(req.Path); err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	d.answer(w, r, "retrieve", func(ctx context.Context, report func(api.Progress)) (any, error) {
		m, err := d.client.RetrieveFile(ctx, ref, filepath.Clean(req.Path), req.Force, func(done, total int64) {
			report(api.Progress{Done: done, Total: total})
		})
		if err != nil {
			return nil, err
		}
		return api.RetrieveResult{Path: req.Path, Size: m.Size, Root: m.Root.String()}, nil
	})
}

// handleAudit challenges the holder of every shard of a file now. A file
// this node stored is audited with its compact proofs by default, and its
// results join the file's audit history.
func (d *Daemon) handleAudit(w http.ResponseWriter, r *http.Request) {
	var req api.AuditRequest
	if !decodeJSON(w, r, "audit", &req) {
		return
	}
	ref, ok := parseReference(w, req.Reference)
	if !ok {
		return
	}
	a := d.auditor()
	scheme, mine, err := a.resolve(ref, req.Scheme)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	d.answer(w, r, "audit", func(ctx context.Context, _ func(api.Progress)) (any, error) {
		return a.audit(ctx, ref, scheme, mine)
	})
}

// auditor is the daemon's auditor for on-demand audits.
func (d *Daemon) auditor() auditor {
	return auditor{client: d.client, files: d.files, key: d.opts.ProofKey, peerString: d.opts.PeerString,
		period: d.repo.Config.EpochOrDefault(), log: d.log}
}

// auditor runs `dsn audit` for a daemon or a temporary node.
type auditor struct {
	client     *node.Client
	files      *owned.DB
	key        *compact.Key
	peerString func(dsn.PeerID) string
	period     time.Duration
	log        *slog.Logger
}

// resolve picks the scheme of an audit of ref ("" chooses) and returns the
// owner's record of the file if this node stored it.
func (a auditor) resolve(ref manifest.Reference, scheme string) (string, *owned.File, error) {
	mine, err := a.files.Get(ref.Manifest)
	if err != nil {
		if !errors.Is(err, owned.ErrNotFound) {
			a.log.Warn("audit: owner record", "manifest", ref.Manifest, "err", err)
		}
		mine = nil
	}
	switch {
	case scheme == "" && mine != nil && a.key != nil:
		return node.SchemeCompact, mine, nil
	case scheme == "":
		return node.SchemeMerkle, mine, nil
	case scheme != node.SchemeMerkle && scheme != node.SchemeCompact:
		return "", nil, fmt.Errorf("scheme %q: want %s or %s", scheme, node.SchemeMerkle, node.SchemeCompact)
	case scheme == node.SchemeCompact && (mine == nil || a.key == nil):
		return "", nil, errors.New("compact proofs can be checked only by the node that stored the file; use the merkle scheme")
	}
	return scheme, mine, nil
}

// audit challenges every shard of the file now; for a file this node
// stored, the outcomes join its audit history.
func (a auditor) audit(ctx context.Context, ref manifest.Reference, scheme string, mine *owned.File) (*api.AuditResult, error) {
	var m *manifest.Manifest
	if mine != nil {
		m = mine.Manifest
	} else {
		var err error
		if m, err = a.client.FetchManifest(ctx, ref); err != nil {
			return nil, err
		}
	}
	epoch := EpochOf(time.Now(), a.period)
	audits, err := a.client.AuditFile(ctx, m, scheme, Beacon(epoch, a.period))
	if err != nil {
		return nil, err
	}
	res := &api.AuditResult{Manifest: ref.Manifest.String(), Shards: make([]api.ShardAudit, len(audits))}
	for i, au := range audits {
		sa := api.ShardAudit{Segment: au.Segment, Shard: au.Shard, ID: au.ID.String(), Provider: a.peerString(au.Provider),
			Scheme: au.Scheme, Result: string(outcome(au.Outcome)), LatencyMS: ms(au.Latency), ProofBytes: au.ProofBytes}
		if au.Reason != nil {
			sa.Reason = au.Reason.Error()
		}
		res.Shards[i] = sa
		if mine != nil && au.Outcome != auditproto.Aborted {
			rec := owned.Audit{Epoch: epoch, Time: time.Now(), Scheme: au.Scheme, Provider: au.Provider, Outcome: outcome(au.Outcome),
				Latency: au.Latency, ProofBytes: au.ProofBytes, Reason: sa.Reason}
			if err := a.files.RecordAudit(ref.Manifest, au.Segment, au.Shard, rec); err != nil {
				a.log.Warn("record audit", "manifest", ref.Manifest, "err", err)
			}
		}
	}
	return res, nil
}

// handleRepair audits a file now and rebuilds every shard that did not
// pass, whatever the threshold: the owner, or a repairer, asked. The
// request names a file this node stored by its reference, or any file by
// its repair capability (or a private file's reference, which yields one);
// the repaired manifest is published as a new version, so the file's
// reference follows it. With PrintCap it only answers the capability.
func (d *Daemon) handleRepair(w http.ResponseWriter, r *http.Request) {
	var req api.RepairRequest
	if !decodeJSON(w, r, "repair", &req) {
		return
	}
	var (
		ref   manifest.Reference
		rc    manifest.RepairCap
		hasRC bool
	)
	if manifest.IsRepairCap(req.Reference) {
		var err error
		if rc, err = manifest.ParseRepairCap(req.Reference); err != nil {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
			return
		}
		ref, hasRC = rc.Reference(), true
	} else {
		var ok bool
		if ref, ok = parseReference(w, req.Reference); !ok {
			return
		}
		rc, hasRC = ref.RepairCap()
	}
	f, err := d.files.Get(ref.Manifest)
	switch {
	case errors.Is(err, owned.ErrNotFound):
		f = nil
		if !hasRC {
			writeError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("repair: %v: a public file is repaired by the node that stored it, or with its repair capability", err))
			return
		}
	case err != nil:
		writeError(w, http.StatusInternalServerError, api.CodeInternal, fmt.Sprintf("repair: %v", err))
		return
	case !hasRC:
		rc, hasRC = f.RepairCap()
	}
	if req.PrintCap {
		if !hasRC {
			writeError(w, http.StatusNotFound, api.CodeNotFound, "repair: this node kept no repair capability for the public file")
			return
		}
		writeJSON(w, http.StatusOK, api.RepairResult{Manifest: ref.Manifest.String(), Segments: []api.SegmentRepair{}, Cap: rc.String()})
		return
	}
	d.answer(w, r, "repair", func(ctx context.Context, _ func(api.Progress)) (any, error) {
		a := d.auditor()
		var m *manifest.Manifest
		bad := map[[2]int]bool{}
		if f != nil {
			m = f.Manifest
			scheme, _, err := a.resolve(ref, "")
			if err != nil {
				return nil, err
			}
			audit, err := a.audit(ctx, ref, scheme, f)
			if err != nil {
				return nil, err
			}
			for _, s := range audit.Shards {
				if s.Result != api.ResultPass {
					bad[[2]int{s.Segment, s.Shard}] = true
				}
			}
		} else {
			// A repairer holds no proof key and no audit history: it
			// fetches the newest manifest and checks every shard with a
			// Merkle challenge, which the shard ID alone verifies.
			if m, err = d.client.FetchManifestCap(ctx, rc); err != nil {
				return nil, err
			}
			epoch := EpochOf(time.Now(), a.period)
			audits, err := d.client.AuditFile(ctx, m, node.SchemeMerkle, Beacon(epoch, a.period))
			if err != nil {
				return nil, err
			}
			for _, au := range audits {
				if au.Outcome != auditproto.Pass {
					bad[[2]int{au.Segment, au.Shard}] = true
				}
			}
		}
		res := api.RepairResult{Manifest: ref.Manifest.String(), Segments: []api.SegmentRepair{}}
		if len(bad) == 0 {
			return res, nil
		}
		nm, done, err := d.client.RepairFile(ctx, m, func(s, j int) bool { return !bad[[2]int{s, j}] }, m.K+m.M-1)
		if len(done) > 0 {
			var rec []byte
			if hasRC {
				v, perr := d.client.PublishVersion(ctx, rc, nm)
				if perr != nil {
					err = errors.Join(err, perr)
				} else {
					res.Version = v.Seq
					rec, _ = v.MarshalBinary()
				}
			} else {
				d.log.Warn("repair: no repair capability kept for this public file: the new holders are not published as a version", "file", ref.Manifest)
			}
			if f != nil {
				nf := *f
				nf.Manifest = nm
				if rec != nil {
					nf.Version = rec
				}
				if aerr := d.files.Add(nf); aerr != nil {
					return nil, aerr
				}
				d.cancelMoved(ctx, m, nm)
			}
		}
		for _, r := range done {
			sr := api.SegmentRepair{Segment: r.Segment, Healthy: r.Healthy, Rebuilt: r.Rebuilt}
			for _, p := range r.Placed {
				sr.Placed = append(sr.Placed, d.opts.PeerString(p))
			}
			res.Segments = append(res.Segments, sr)
		}
		return res, err
	})
}

func ms(t time.Duration) float64 { return float64(t.Microseconds()) / 1000 }

// maxFilesListed bounds the files one GET /v1/files lists.
const maxFilesListed = 10000

// handleFiles lists the files this node stored, each with its shards'
// audit history; ?manifest=CID names one.
func (d *Daemon) handleFiles(w http.ResponseWriter, r *http.Request) {
	var files []*owned.File
	if s := r.URL.Query().Get("manifest"); s != "" {
		c, err := cid.Decode(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("manifest %q is not a CID: %v", s, err))
			return
		}
		f, err := d.files.Get(c)
		if err != nil {
			status, code := http.StatusInternalServerError, api.CodeInternal
			if errors.Is(err, owned.ErrNotFound) {
				status, code = http.StatusNotFound, api.CodeNotFound
			}
			writeError(w, status, code, err.Error())
			return
		}
		files = append(files, f)
	} else {
		var err error
		files, err = d.files.Files(func(k []byte, err error) {
			d.log.Error("owner record unreadable", "key", fmt.Sprintf("%x", k), "err", err)
		})
		if err != nil {
			writeError(w, http.StatusInternalServerError, api.CodeInternal, err.Error())
			return
		}
		if len(files) > maxFilesListed {
			files = files[:maxFilesListed]
		}
	}
	out := api.Files{Files: []api.File{}}
	for _, f := range files {
		af, err := d.fileHealth(f)
		if err != nil {
			writeError(w, http.StatusInternalServerError, api.CodeInternal, err.Error())
			return
		}
		out.Files = append(out.Files, af)
	}
	writeJSON(w, http.StatusOK, out)
}

// fileHealth reports one stored file with the latest audit of each of
// its shards.
func (d *Daemon) fileHealth(f *owned.File) (api.File, error) {
	m := f.Manifest
	af := api.File{Manifest: f.Reference.Manifest.String(), Size: m.Size, Stored: f.Stored.Format(time.RFC3339), K: m.K, M: m.M}
	hs, err := d.files.Health(f.Reference.Manifest)
	if err != nil {
		return af, err
	}
	byShard := map[[2]int]owned.Health{}
	for _, h := range hs {
		byShard[[2]int{h.Segment, h.Shard}] = h
	}
	for i, seg := range m.Segments {
		for j, sh := range seg.Shards {
			fs := api.FileShard{Segment: i, Shard: j, ID: sh.ID.String(), Provider: d.opts.PeerString(sh.Provider)}
			if h, ok := byShard[[2]int{i, j}]; ok && h.Last != nil && h.Last.Provider == sh.Provider {
				fs.Passes, fs.Fails, fs.Misses = h.Passes, h.Fails, h.Misses
				l := h.Last
				fs.Epoch, fs.Time, fs.Scheme, fs.Result, fs.Reason = l.Epoch, l.Time.Format(time.RFC3339), l.Scheme, string(l.Outcome), l.Reason
				fs.LatencyMS, fs.ProofBytes = ms(l.Latency), l.ProofBytes
				if l.Outcome == owned.Pass {
					af.Healthy++
				}
			}
			af.Shards = append(af.Shards, fs)
		}
	}
	return af, nil
}

// progressEvery is how often a streamed answer reports progress.
const progressEvery = 250 * time.Millisecond

func acceptsEvents(r *http.Request) bool { return r.Header.Get("Accept") == api.MediaEvents }

// answer runs a transfer and answers with its result. A request that
// accepts api.MediaEvents gets the answer as a stream: progress every
// progressEvery while work runs, then the result or the error. work's
// report may be called from many goroutines at once and never blocks: it
// only keeps the latest figures, which this goroutine sends.
func (d *Daemon) answer(w http.ResponseWriter, r *http.Request, op string, work func(ctx context.Context, report func(api.Progress)) (any, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), d.opts.API.TransferTimeout)
	defer cancel()
	if !acceptsEvents(r) {
		res, err := work(ctx, func(api.Progress) {})
		if err != nil {
			status, code := failure(err)
			d.log.Warn("api "+op+" failed", "err", err)
			writeError(w, status, code, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, res)
		return
	}

	var latest atomic.Pointer[api.Progress]
	// Reports come from many goroutines, and one computed earlier may
	// arrive later: keep the furthest figures, so progress never goes
	// back.
	report := func(p api.Progress) {
		for {
			old := latest.Load()
			next := p
			if old != nil {
				if old.Done >= p.Done && old.Stored >= p.Stored {
					return
				}
				next.Done, next.Stored = max(old.Done, p.Done), max(old.Stored, p.Stored)
			}
			if latest.CompareAndSwap(old, &next) {
				return
			}
		}
	}
	type outcome struct {
		res any
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := work(ctx, report)
		done <- outcome{res, err}
	}()

	w.Header().Set("Content-Type", api.MediaEvents)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	send := func(ev api.Event) {
		// A client that went away cancels ctx through the request; the
		// write error itself adds nothing.
		if enc.Encode(ev) == nil {
			rc.Flush()
		}
	}
	rc.Flush()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	var sent *api.Progress
	for {
		select {
		case <-tick.C:
			if p := latest.Load(); p != nil && p != sent {
				send(api.Event{Progress: p})
				sent = p
			}
		case o := <-done:
			// The last figures go out before the outcome, so a client
			// always sees where the work ended.
			if p := latest.Load(); p != nil && p != sent {
				send(api.Event{Progress: p})
			}
			if o.err != nil {
				status, code := failure(o.err)
				d.log.Warn("api "+op+" failed", "err", o.err)
				send(api.Event{Error: &api.Error{Code: code, Message: o.err.Error()}, Status: status})
				return
			}
			b, err := json.Marshal(o.res)
			if err != nil {
				send(api.Event{Error: &api.Error{Code: api.CodeInternal, Message: err.Error()}, Status: http.StatusInternalServerError})
				return
			}
			send(api.Event{Result: b})
			return
		}
	}
}

func (d *Daemon) handleStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), d.opts.API.StatusTimeout)
	defer cancel()
	s, err := d.Status(ctx)
	if err != nil {
		status, code := failure(err)
		writeError(w, status, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s)
}

// Status reports the node's identity, connectivity and storage.
func (d *Daemon) Status(ctx context.Context) (*api.Status, error) {
	peers := d.host.Peers()
	s := &api.Status{
		PeerID:       d.opts.PeerString(d.host.Self()),
		Addrs:        d.host.Addrs(),
		Peers:        make([]string, len(peers)),
		RoutingTable: d.host.RoutingTableSize(),
		Provider:     d.store != nil,
	}
	for i, p := range peers {
		s.Peers[i] = d.opts.PeerString(p)
	}
	s.LedgerEntries, s.Witnessed, s.Distrusted = d.ledgerStatus()
	if d.store != nil {
		u, err := d.store.Usage(ctx)
		if err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
		s.Shards, s.Used, s.Capacity = u.Shards, u.Used, u.Capacity
		s.Free = max(0, u.Capacity-u.Used)
	}
	return s, nil
}
