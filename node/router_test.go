package node

import (
	"bytes"
	"context"
	"net/netip"
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

// netTransport is an in-process transport that reports the address each
// peer is reached at, as the libp2p host does from its connections.
type netTransport struct {
	dsn.Transport
	ips map[dsn.PeerID]netip.Addr
}

func (t netTransport) PeerIPs(p dsn.PeerID) []netip.Addr {
	if ip, ok := t.ips[p]; ok {
		return []netip.Addr{ip}
	}
	return nil
}

// TestPlacementSpreadsOverSubnets puts 8 providers on 5 networks: every
// segment of a 4+2 file must use all 5 networks (one twice), where distance
// alone would often put two shards of a segment in one network.
func TestPlacementSpreadsOverSubnets(t *testing.T) {
	l := startNet(t, 8)
	ips := map[dsn.PeerID]netip.Addr{}
	nets := []string{"198.51.100.7", "198.51.100.9", "203.0.113.1", "203.0.113.2", "192.0.2.1", "192.0.2.200", "100.64.0.1", "100.65.0.1"}
	for i, p := range l.Providers {
		ips[p.ID] = netip.MustParseAddr(nets[i])
	}
	client := NewClient(netTransport{l.Net.Add("client-2"), ips}, ClientOptions{})
	res, err := client.Store(ctxT(t), bytes.NewReader(testData(9<<20, 31)), StoreOptions{SegmentChunks: testSegmentChunks})
	if err != nil {
		t.Fatal(err)
	}
	for i, seg := range res.Manifest.Segments {
		used := map[string]int{}
		for _, sh := range seg.Shards {
			used[market.Subnet(ips[sh.Provider])]++
		}
		if len(used) != 5 {
			t.Errorf("segment %d spans %d networks %v, want all 5", i, len(used), used)
		}
	}
}

// vettingMarket is a Market that admits everyone and has vetted only the
// peers in vetted.
type vettingMarket map[dsn.PeerID]bool

func (vettingMarket) Eligible(dsn.PeerID, int64, uint64) error { return nil }
func (vettingMarket) Prices(dsn.PeerID) (uint64, uint64, bool) { return 0, 0, false }
func (m vettingMarket) Vetted(p dsn.PeerID) bool               { return m[p] }

// TestPlacementLimitsUnvetted: a segment takes at most
// market.DefaultMaxUnvetted providers the client has not vetted while
// vetted ones remain, however close the unvetted ones are; with none
// vetted, it still stores.
func TestPlacementLimitsUnvetted(t *testing.T) {
	l := startNet(t, 10)
	vetted := vettingMarket{}
	for _, p := range l.Providers[:6] {
		vetted[p.ID] = true
	}
	data := testData(5<<20, 41)
	for _, tc := range []struct {
		name   string
		market vettingMarket
		most   int // unvetted providers per segment
	}{
		{"six of ten vetted", vetted, market.DefaultMaxUnvetted},
		{"none vetted", vettingMarket{}, 6},
	} {
		client := NewClient(l.Net.Add(dsn.PeerID("client-"+tc.name)), ClientOptions{Market: tc.market})
		res, err := client.Store(ctxT(t), bytes.NewReader(data), StoreOptions{K: 4, M: 2, SegmentChunks: testSegmentChunks})
		if err != nil {
			t.Fatalf("%s: Store = %v", tc.name, err)
		}
		for i, seg := range res.Manifest.Segments {
			n := 0
			for _, sh := range seg.Shards {
				if !tc.market[sh.Provider] {
					n++
				}
			}
			if n > tc.most {
				t.Errorf("%s: segment %d has %d unvetted providers, want at most %d", tc.name, i, n, tc.most)
			}
		}
	}
}
