package daemon

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node"
	"github.com/dsn-project/dsn/node/daemon/api"
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
	maxHeaderBytes     = 16 << 10
	maxRetrieveRequest = 64 << 10
	maxPath            = 4096
	maxReference       = 1024
	readHeaderTimeout  = 10 * time.Second
	idleConnTimeout    = 2 * time.Minute
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

func (d *Daemon) handleStore(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
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
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%s=%q is not a number", p.name, s))
			return
		}
		*p.v = n
	}
	// One of k and m alone keeps the default of the other.
	if q.Has("k") && !q.Has("m") {
		opts.M = node.DefaultM
	}
	if q.Has("m") && !q.Has("k") {
		opts.K = node.DefaultK
	}
	if opts.K != 0 || opts.M != 0 {
		if err := node.CheckKM(opts.K, opts.M); err != nil {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
			return
		}
	}
	if s := q.Get("public"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("public=%q is not true or false", s))
			return
		}
		opts.Public = b
	}
	max := d.opts.API.MaxStoreSize
	if r.ContentLength > max {
		writeError(w, http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("file of %d bytes is larger than the %d this node accepts", r.ContentLength, max))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d.opts.API.TransferTimeout)
	defer cancel()
	rc := http.NewResponseController(w)
	body := &idleReader{r: http.MaxBytesReader(w, r.Body, max), rc: rc, idle: d.opts.API.Idle}
	res, err := d.client.Store(ctx, body, opts)
	if err != nil {
		status, code := failure(err)
		d.log.Warn("api store failed", "err", err)
		writeError(w, status, code, err.Error())
		return
	}
	// Reading is done; the answer is small, but the read deadline set last
	// must not cut it off.
	rc.SetReadDeadline(time.Time{})
	m := res.Manifest
	d.log.Info("stored", "manifest", res.Reference.Manifest, "size", m.Size, "segments", len(m.Segments))
	writeJSON(w, http.StatusOK, api.StoreResult{
		Reference: res.Reference.String(),
		Root:      m.Root.String(),
		Size:      m.Size,
		Segments:  len(m.Segments),
		K:         m.K,
		M:         m.M,
		Stored:    res.Stored,
	})
}

func (d *Daemon) handleRetrieve(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, api.CodeBadRequest, fmt.Sprintf("content type %q: want application/json", ct))
		return
	}
	var req api.RetrieveRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRetrieveRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		status, code := http.StatusBadRequest, api.CodeBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status, code = http.StatusRequestEntityTooLarge, api.CodeTooLarge
		}
		writeError(w, status, code, fmt.Sprintf("retrieve request: %v", err))
		return
	}
	if len(req.Reference) > maxReference {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("reference of %d bytes, at most %d allowed", len(req.Reference), maxReference))
		return
	}
	ref, err := manifest.ParseReference(req.Reference)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	if req.Path == "" || len(req.Path) > maxPath || !filepath.IsAbs(req.Path) {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("path %q: want an absolute path of at most %d bytes on the daemon's machine", req.Path, maxPath))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d.opts.API.TransferTimeout)
	defer cancel()
	m, err := d.client.RetrieveFile(ctx, ref, filepath.Clean(req.Path), req.Force, nil)
	if err != nil {
		status, code := failure(err)
		d.log.Warn("api retrieve failed", "err", err)
		writeError(w, status, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, api.RetrieveResult{Path: req.Path, Size: m.Size, Root: m.Root.String()})
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
