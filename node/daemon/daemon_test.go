package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/market"
	"github.com/dsn-project/dsn/node"
	"github.com/dsn-project/dsn/node/daemon/api"
	"github.com/dsn-project/dsn/node/inproc"
	"github.com/dsn-project/dsn/node/shardstore/memstore"
)

// inprocHost is a Host over the in-process transport: routing ranks the
// transport's peers by the same XOR metric the DHT uses, and there is no
// routing table beyond the peers themselves.
type inprocHost struct {
	*inproc.Transport
	saves atomic.Int64
}

func (h *inprocHost) ClosestPeers(_ context.Context, id dsn.ShardID) ([]dsn.PeerID, error) {
	return market.Rank(id.Multihash(), h.Peers()), nil
}
func (h *inprocHost) Provide(context.Context, dsn.ShardID) error { return nil }
func (h *inprocHost) FindProviders(context.Context, dsn.ShardID, int) ([]dsn.PeerID, error) {
	return nil, nil
}
func (h *inprocHost) Addrs() []string                 { return []string{"/inproc/" + string(h.Self())} }
func (h *inprocHost) RoutingTableSize() int           { return len(h.Peers()) }
func (h *inprocHost) Bootstrap(context.Context) error { return nil }
func (h *inprocHost) SavePeers() error                { h.saves.Add(1); return nil }
func (h *inprocHost) WaitForPeers(ctx context.Context, n int) error {
	if len(h.Peers()) >= n {
		return nil
	}
	return fmt.Errorf("%d peers, want %d", len(h.Peers()), n)
}
func (h *inprocHost) Close() error { return nil }

// testNet is an in-process network of memory providers to which daemons
// are added.
type testNet struct {
	net *inproc.Network
}

func newTestNet(t *testing.T, providers int) *testNet {
	n := &testNet{net: inproc.NewNetwork()}
	for i := range providers {
		st := memstore.New(0)
		t.Cleanup(func() { st.Close() })
		node.ServeProvider(n.net.Add(dsn.PeerID(fmt.Sprintf("mem-%d", i))), "", st, nil)
	}
	return n
}

// startDaemon initialises a repo with capacity and runs a daemon for it on
// the network under the name id.
func (n *testNet) startDaemon(t *testing.T, id string, capacity int64, apiOpts APIOptions) (*Daemon, *Repo, *inprocHost) {
	t.Helper()
	return n.startDaemonWith(t, id, func(c *Config) { c.Capacity = capacity }, Options{API: apiOpts})
}

// startDaemonWith is startDaemon with the config edited by edit and the
// given options.
func (n *testNet) startDaemonWith(t *testing.T, id string, edit func(*Config), opts Options) (*Daemon, *Repo, *inprocHost) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), id)
	cfg := DefaultConfig()
	edit(&cfg)
	if _, err := Init(dir, cfg); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := &inprocHost{Transport: n.net.Add(dsn.PeerID(id))}
	opts.Client.ShardTimeout = 20 * time.Second
	d, err := Start(context.Background(), r, h, opts)
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop()
		r.Close()
	})
	return d, r, h
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func TestAPIStoreRetrieveStatus(t *testing.T) {
	n := newTestNet(t, 5)
	_, prepo, _ := n.startDaemon(t, "provider", 64<<20, APIOptions{})
	_, crepo, _ := n.startDaemon(t, "client", 0, APIOptions{})
	ctx := ctxT(t)

	c, err := api.Dial(ctx, crepo.Dir)
	if err != nil {
		t.Fatalf("Dial(client repo): %v", err)
	}
	data := randomBytes(3<<20+5, 1)
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var events []api.Progress
	res, err := c.StoreFile(ctx, in, api.StoreOptions{K: 4, M: 2}, func(p api.Progress) { events = append(events, p) })
	if err != nil {
		t.Fatalf("StoreFile: %v", err)
	}
	if res.Size != int64(len(data)) || res.K != 4 || res.M != 2 || res.Segments != 1 || !strings.HasPrefix(res.Reference, "dsn:") {
		t.Errorf("StoreFile = %+v, want size %d, k=4 m=2, 1 segment, a dsn: reference", res, len(data))
	}
	checkProgress(t, "StoreFile", events, int64(len(data)), res.Stored)

	// The same bytes sent through the API are the same file (the same
	// root CID), with progress while the body is still being sent.
	events = nil
	res2, err := c.Store(ctx, bytes.NewReader(data), int64(len(data)), api.StoreOptions{K: 4, M: 2}, func(p api.Progress) { events = append(events, p) })
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	if res2.Root != res.Root || res2.Size != res.Size {
		t.Errorf("Store of the same bytes = %+v, want root %s size %d", res2, res.Root, res.Size)
	}
	checkProgress(t, "Store", events, int64(len(data)), res2.Stored)

	// k+m = 6 shards on 6 distinct peers: all five memory providers and
	// the provider daemon; the client daemon holds nothing.
	p, err := api.Dial(ctx, prepo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ps.Provider || ps.Shards < 1 || ps.Used <= 0 || ps.Capacity != 64<<20 || ps.Free != ps.Capacity-ps.Used {
		t.Errorf("provider status = %+v, want a provider holding at least one shard", ps)
	}
	if ps.PeerID != "provider" || len(ps.Peers) != 6 || ps.RoutingTable != 6 || len(ps.Addrs) != 1 {
		t.Errorf("provider status = %+v, want peer provider with 6 peers", ps)
	}
	cs, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Provider || cs.Shards != 0 || cs.Capacity != 0 {
		t.Errorf("client status = %+v, want no storage", cs)
	}

	out := filepath.Join(t.TempDir(), "out")
	events = nil
	rr, err := c.Retrieve(ctx, api.RetrieveRequest{Reference: res.Reference, Path: out}, func(p api.Progress) { events = append(events, p) })
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	checkProgress(t, "Retrieve", events, int64(len(data)), 0)
	if rr.Size != int64(len(data)) || rr.Root != res.Root {
		t.Errorf("Retrieve = %+v, want size %d root %s", rr, len(data), res.Root)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("retrieved file: %d bytes, err %v; want the %d stored bytes", len(got), err, len(data))
	}

	_, err = c.Retrieve(ctx, api.RetrieveRequest{Reference: res.Reference, Path: out}, nil)
	if re := remote(err); re == nil || re.Status != http.StatusConflict || re.Code != api.CodeExists {
		t.Errorf("Retrieve onto an existing file = %v, want 409 %s", err, api.CodeExists)
	}
	if _, err := c.Retrieve(ctx, api.RetrieveRequest{Reference: res.Reference, Path: out, Force: true}, nil); err != nil {
		t.Errorf("Retrieve with force = %v, want success", err)
	}

	// A file the daemon cannot read is refused with a code that lets the
	// client send the bytes instead.
	_, err = c.StoreFile(ctx, filepath.Join(t.TempDir(), "missing"), api.StoreOptions{}, nil)
	if re := remote(err); re == nil || re.Code != api.CodeUnreadable || !strings.Contains(re.Message, "missing") {
		t.Errorf("StoreFile of a missing file = %v, want %s naming the file", err, api.CodeUnreadable)
	}
	_, err = c.StoreFile(ctx, t.TempDir(), api.StoreOptions{}, nil)
	if re := remote(err); re == nil || re.Code != api.CodeUnreadable || !strings.Contains(re.Message, "not a regular file") {
		t.Errorf("StoreFile of a directory = %v, want %s", err, api.CodeUnreadable)
	}
}

// checkProgress checks the progress a client saw: figures that never go
// back, never pass the total, and end at the whole file (and, for a store,
// at every shard byte acknowledged).
func checkProgress(t *testing.T, op string, events []api.Progress, total, stored int64) {
	t.Helper()
	if len(events) == 0 {
		t.Fatalf("%s reported no progress", op)
	}
	var prev api.Progress
	for i, p := range events {
		if p.Done < prev.Done || p.Stored < prev.Stored || p.Total != total || p.Done > total {
			t.Fatalf("%s progress #%d = %+v after %+v, want figures rising to total %d", op, i, p, prev, total)
		}
		prev = p
	}
	if last := events[len(events)-1]; last.Done != total || last.Stored != stored {
		t.Errorf("%s last progress = %+v, want done %d, stored %d", op, last, total, stored)
	}
}

func remote(err error) *api.RemoteError {
	var re *api.RemoteError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

func TestAPIStoreNotEnoughProviders(t *testing.T) {
	n := newTestNet(t, 2)
	_, r, _ := n.startDaemon(t, "client", 0, APIOptions{})
	ctx := ctxT(t)
	c, err := api.Dial(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// A body larger than any socket buffer: the answer must arrive even
	// though the daemon refuses before reading it.
	data := randomBytes(8<<20, 2)
	for _, progress := range []func(api.Progress){nil, func(api.Progress) {}} {
		// The error comes as an answer's status, or as the last event of
		// a streamed answer: the client sees the same either way.
		_, err = c.Store(ctx, bytes.NewReader(data), int64(len(data)), api.StoreOptions{}, progress)
		if re := remote(err); re == nil || re.Status != http.StatusServiceUnavailable || re.Code != api.CodeNotEnoughPeers {
			t.Fatalf("Store with 2 providers (events %t) = %v, want 503 %s", progress != nil, err, api.CodeNotEnoughPeers)
		}
	}
}

func TestAPIBadRequests(t *testing.T) {
	n := newTestNet(t, 6)
	d, _, _ := n.startDaemon(t, "client", 0, APIOptions{MaxStoreSize: 1 << 20})
	base := "http://" + d.APIAddr()
	abs := filepath.Join(t.TempDir(), "x")
	tests := []struct {
		name        string
		method, url string
		header      map[string]string
		body        io.Reader
		length      int64 // -1: unknown (chunked)
		status      int
		code        string
	}{
		{"bad k", "POST", "/v1/store?k=x", nil, strings.NewReader("a"), 1, 400, api.CodeBadRequest},
		{"k+m too wide", "POST", "/v1/store?k=200&m=100", nil, strings.NewReader("a"), 1, 400, api.CodeBadRequest},
		{"bad public", "POST", "/v1/store?public=maybe", nil, strings.NewReader("a"), 1, 400, api.CodeBadRequest},
		{"declared too large", "POST", "/v1/store", nil, bytes.NewReader(make([]byte, 2<<20)), 2 << 20, 413, api.CodeTooLarge},
		{"streamed too large", "POST", "/v1/store", nil, bytes.NewReader(make([]byte, 2<<20)), -1, 413, api.CodeTooLarge},
		{"store unknown type", "POST", "/v1/store", map[string]string{"Content-Type": "text/plain"}, strings.NewReader("a"), 1, 415, api.CodeBadRequest},
		{"store relative path", "POST", "/v1/store", map[string]string{"Content-Type": "application/json"}, strings.NewReader(`{"path":"in"}`), -1, 400, api.CodeBadRequest},
		{"store path bad k", "POST", "/v1/store", map[string]string{"Content-Type": "application/json"}, strings.NewReader(`{"path":"` + abs + `","k":300}`), -1, 400, api.CodeBadRequest},
		{"store path unknown field", "POST", "/v1/store", map[string]string{"Content-Type": "application/json"}, strings.NewReader(`{"file":"x"}`), -1, 400, api.CodeBadRequest},
		{"retrieve not json", "POST", "/v1/retrieve", nil, strings.NewReader("{}"), 2, 415, api.CodeBadRequest},
		{"retrieve bad json", "POST", "/v1/retrieve", map[string]string{"Content-Type": "application/json"}, strings.NewReader("{"), 1, 400, api.CodeBadRequest},
		{"retrieve unknown field", "POST", "/v1/retrieve", map[string]string{"Content-Type": "application/json"}, strings.NewReader(`{"ref":"x"}`), 11, 400, api.CodeBadRequest},
		{"retrieve huge", "POST", "/v1/retrieve", map[string]string{"Content-Type": "application/json"}, strings.NewReader(`{"reference":"` + strings.Repeat("a", 100<<10) + `"}`), -1, 413, api.CodeTooLarge},
		{"retrieve bad reference", "POST", "/v1/retrieve", map[string]string{"Content-Type": "application/json"}, strings.NewReader(`{"reference":"dsn:nope","path":"` + abs + `"}`), -1, 400, api.CodeBadRequest},
		{"retrieve relative path", "POST", "/v1/retrieve", map[string]string{"Content-Type": "application/json"}, strings.NewReader(`{"reference":"dsn:bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi","path":"out"}`), -1, 400, api.CodeBadRequest},
		{"unknown endpoint", "GET", "/v1/nope", nil, nil, 0, 404, api.CodeNotFound},
		{"wrong method", "GET", "/v1/store", nil, nil, 0, 405, api.CodeMethod},
		{"from a web page", "GET", "/v1/status", map[string]string{"Origin": "https://evil.example"}, nil, 0, 403, api.CodeForbidden},
		{"rebound host", "GET", "/v1/status", map[string]string{"Host": "evil.example:80"}, nil, 0, 403, api.CodeForbidden},
		{"huge header", "GET", "/v1/status", map[string]string{"X-Big": strings.Repeat("a", 64<<10)}, nil, 0, 431, ""},
		{"no token", "GET", "/v1/status", map[string]string{"Authorization": ""}, nil, 0, 401, api.CodeUnauthorized},
		{"wrong token", "GET", "/v1/status", map[string]string{"Authorization": "Bearer " + strings.Repeat("0", 64)}, nil, 0, 401, api.CodeUnauthorized},
		{"profile without token", "GET", "/debug/pprof/profile?seconds=30", map[string]string{"Authorization": ""}, nil, 0, 401, api.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctxT(t), tt.method, base+tt.url, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = tt.length
			req.Header.Set("Authorization", "Bearer "+d.token)
			for k, v := range tt.header {
				if k == "Host" {
					req.Host = v
				}
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.url, resp.StatusCode, b, tt.status)
			}
			if tt.code == "" {
				return
			}
			var e api.Error
			if err := jsonDecode(b, &e); err != nil || e.Code != tt.code || e.Message == "" {
				t.Errorf("%s %s body = %s, want a JSON error with code %s and a message", tt.method, tt.url, b, tt.code)
			}
		})
	}
}

func TestStopRemovesFilesAndDialFails(t *testing.T) {
	n := newTestNet(t, 1)
	d, r, h := n.startDaemon(t, "p", 1<<20, APIOptions{})
	for _, f := range []string{APIFile, TokenFile, PIDFile} {
		if _, err := os.Stat(r.Path(f)); err != nil {
			t.Errorf("running daemon: %s: %v", f, err)
		}
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, f := range []string{APIFile, TokenFile, PIDFile} {
		if _, err := os.Stat(r.Path(f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stopped daemon: %s still there (%v)", f, err)
		}
	}
	if h.saves.Load() == 0 {
		t.Error("Stop did not save the peers")
	}
	if _, err := api.Dial(ctxT(t), r.Dir); !errors.Is(err, api.ErrNoDaemon) {
		t.Errorf("Dial after Stop = %v, want ErrNoDaemon", err)
	}
	// A stale api file (a killed daemon) is not taken for a live daemon.
	if err := os.WriteFile(r.Path(APIFile), []byte(d.APIAddr()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Dial(ctxT(t), r.Dir); !errors.Is(err, api.ErrNoDaemon) {
		t.Errorf("Dial with a stale api file = %v, want ErrNoDaemon", err)
	}
}

func TestLimitedTransfers(t *testing.T) {
	slots := make(chan struct{}, 1)
	started, release := make(chan struct{}), make(chan struct{})
	h := limited(slots, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	})
	go h(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/store", nil))
	<-started
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest("POST", "/v1/store", nil))
	var e api.Error
	if err := jsonDecode(rec.Body.Bytes(), &e); rec.Code != http.StatusServiceUnavailable || err != nil || e.Code != api.CodeBusy {
		t.Fatalf("second transfer = %d %s, want 503 %s", rec.Code, rec.Body, api.CodeBusy)
	}
	close(release)
}

// m = 0 (no parity) is a code like any other: both forms of a store
// request keep it, and neither takes the default m for it.
func TestAPIStoreWithoutParity(t *testing.T) {
	n := newTestNet(t, 3)
	_, r, _ := n.startDaemon(t, "client", 0, APIOptions{})
	ctx := ctxT(t)
	c, err := api.Dial(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(1<<20, 5)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	opts := api.StoreOptions{K: 2, M: 0}
	res, err := c.StoreFile(ctx, path, opts, nil)
	if err != nil || res.K != 2 || res.M != 0 {
		t.Errorf("StoreFile(k=2, m=0) = %+v, %v; want k=2 m=0", res, err)
	}
	res, err = c.Store(ctx, bytes.NewReader(data), int64(len(data)), opts, nil)
	if err != nil || res.K != 2 || res.M != 0 {
		t.Errorf("Store(k=2, m=0) = %+v, %v; want k=2 m=0", res, err)
	}
}
