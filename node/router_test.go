package node

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/market"
)

// records is a shared table of provider records, standing in for the DHT's.
type records struct {
	mu sync.Mutex
	m  map[dsn.ShardID][]dsn.PeerID
}

// recordRouter is one peer's view of records.
type recordRouter struct {
	self dsn.PeerID
	t    dsn.Transport
	recs *records
}

func (r recordRouter) ClosestPeers(_ context.Context, id dsn.ShardID) ([]dsn.PeerID, error) {
	return market.Rank(id.Multihash(), r.t.Peers()), nil
}

func (r recordRouter) Provide(_ context.Context, id dsn.ShardID) error {
	r.recs.mu.Lock()
	defer r.recs.mu.Unlock()
	r.recs.m[id] = append(r.recs.m[id], r.self)
	return nil
}

func (r recordRouter) FindProviders(_ context.Context, id dsn.ShardID, limit int) ([]dsn.PeerID, error) {
	r.recs.mu.Lock()
	defer r.recs.mu.Unlock()
	ps := r.recs.m[id]
	return append([]dsn.PeerID(nil), ps[:min(limit, len(ps))]...), nil
}

func (r *records) has(id dsn.ShardID, p dsn.PeerID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.m[id] {
		if q == p {
			return true
		}
	}
	return false
}

// TestRetrieveFindsHoldersThroughRouter moves shards away from the holders
// the manifest names: only the announced records can lead the client to
// them.
func TestRetrieveFindsHoldersThroughRouter(t *testing.T) {
	l := startNet(t, 9)
	recs := &records{m: map[dsn.ShardID][]dsn.PeerID{}}
	ct := l.Net.Add("client-2")
	client := NewClient(ct, ClientOptions{Router: recordRouter{"client-2", ct, recs}})
	data := testData(3<<20, 9)
	res, err := client.Store(ctxT(t), bytes.NewReader(data), StoreOptions{K: 4, M: 2, SegmentChunks: 4})
	if err != nil {
		t.Fatal(err)
	}
	seg := res.Manifest.Segments[0]
	used := map[dsn.PeerID]bool{}
	for _, sh := range seg.Shards {
		used[sh.Provider] = true
	}
	var spares []*Provider
	for _, p := range l.Providers {
		if !used[p.ID] {
			spares = append(spares, p)
		}
	}
	// Copy three shards to spare providers, which announce them, then take
	// the original holders away: more than parity can cover.
	for i, sh := range seg.Shards[:3] {
		from, to := l.Provider(sh.Provider), spares[i]
		rc, size, err := from.Store.FetchShard(context.Background(), sh.ID, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		ann := ProvidingStore(to.Store, recordRouter{to.ID, nil, recs}, nil)
		if err := ann.ReceiveShard(context.Background(), sh.ID, size, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		waitFor(t, func() bool { return recs.has(sh.ID, to.ID) })
		l.Kill(sh.Provider)
	}
	var out bytes.Buffer
	if _, err := client.Retrieve(ctxT(t), res.Reference, &out, nil); err != nil {
		t.Fatalf("retrieve with three holders moved: %v", err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("retrieved bytes differ from the stored ones")
	}
}
