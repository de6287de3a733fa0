package node

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/shardproto"
)

func TestHedgeDelay(t *testing.T) {
	var none *hedge
	if _, wait := none.delay([]dsn.PeerID{"a"}); wait {
		t.Error("a nil hedge holds parity back")
	}
	none.observe(time.Second) // must not panic
	none.slowPeer("a")

	h := newHedge()
	if _, wait := h.delay([]dsn.PeerID{"a", "b"}); wait {
		t.Error("parity held back before any segment was timed")
	}
	h.observe(100 * time.Millisecond)
	if d, wait := h.delay([]dsn.PeerID{"a", "b"}); !wait || d != hedgeFactor*100*time.Millisecond {
		t.Errorf("after one 100ms segment: delay %v, %v; want %v, true", d, wait, hedgeFactor*100*time.Millisecond)
	}
	h.observe(500 * time.Millisecond)
	if d, _ := h.delay(nil); d != hedgeFactor*200*time.Millisecond {
		t.Errorf("smoothed delay %v, want %v", d, hedgeFactor*200*time.Millisecond)
	}
	for range 50 {
		h.observe(time.Hour)
	}
	if d, _ := h.delay(nil); d != hedgeMax {
		t.Errorf("delay after slow segments %v, want the bound %v", d, hedgeMax)
	}
	for range 50 {
		h.observe(time.Microsecond)
	}
	if d, _ := h.delay(nil); d != hedgeMin {
		t.Errorf("delay after fast segments %v, want the floor %v", d, hedgeMin)
	}
	h.slowPeer("b")
	if _, wait := h.delay([]dsn.PeerID{"a", "c"}); !wait {
		t.Error("a slow peer elsewhere made a segment read parity at once")
	}
	for i := range slowSegments {
		if _, wait := h.delay([]dsn.PeerID{"a", "b"}); wait {
			t.Errorf("segment %d after b was slow: parity held back", i)
		}
	}
	if _, wait := h.delay([]dsn.PeerID{"a", "b"}); !wait {
		t.Errorf("b still counts as slow after %d of its segments", slowSegments)
	}
}

// servedBytes is what the providers of l have sent in shard gets.
func servedBytes(l *LocalNetwork) int64 {
	var n int64
	for _, p := range l.Providers {
		n += p.Server.Stats().BytesOut
	}
	return n
}

// holdOffHedging keeps time from opening the gate for the rest of the
// test (a minute's wait): on a loaded machine a slow segment rightly makes
// a read take parity too, and the tests that count bytes are about what a
// read costs when nothing is slow. Failures still open the gate.
func holdOffHedging(t *testing.T) {
	oldMin, oldMax := hedgeMin, hedgeMax
	hedgeMin, hedgeMax = time.Minute, time.Minute
	t.Cleanup(func() { hedgeMin, hedgeMax = oldMin, oldMax })
}

// TestRetrieveReadsDataShardsFirst retrieves over libp2p, whose streams
// have flow control as they would between machines, and counts what the
// providers sent: reading every shard at once made them send close to
// (k+m)/k = 1.5 times the file; with the parity held back until needed
// it is the file, a window of each parity shard, and the first segments
// (read all at once, before a segment has been timed).
func TestRetrieveReadsDataShardsFirst(t *testing.T) {
	holdOffHedging(t)
	l := startLibp2pNet(t, 6)
	data := testData(48<<20, 31)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2, SegmentChunks: 4})
	before := servedBytes(l)
	got, err := retrieveBytes(t, l, res.Reference)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("retrieve = %v (equal %v)", err, bytes.Equal(got, data))
	}
	served := servedBytes(l) - before
	ratio := float64(served) / float64(len(data))
	t.Logf("providers sent %.3f times the file's size", ratio)
	if ratio > 1.35 {
		t.Errorf("providers sent %.2f times the file (%d bytes for %d); want well under 1.5", ratio, served, len(data))
	}
}

// TestRetrieveHedgesAroundAStalledHolder makes the holder of a data shard
// accept gets and never answer. With parity held back, the retrieval
// must still go on, reading parity once the data shards are late, long
// before any per-shard deadline (set here far beyond the test's).
func TestRetrieveHedgesAroundAStalledHolder(t *testing.T) {
	l := startNet(t, 6)
	data := testData(24<<20, 32)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2})
	segs := res.Manifest.Segments
	stalled := segs[len(segs)-1].Shards[0].Provider
	stop := make(chan struct{})
	defer close(stop)
	var asked atomic.Int64
	l.Provider(stalled).t.SetStreamHandler(shardproto.GetProtocol, func(s dsn.Stream) {
		asked.Add(1)
		<-stop
		s.Reset()
	})
	client := NewClient(l.Net.Add("patient-client"), ClientOptions{ShardTimeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if _, err := client.Retrieve(ctx, res.Reference, &out, nil); err != nil {
		t.Fatalf("retrieve with a stalled data holder: %v", err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("retrieved bytes differ from the stored ones")
	}
	if asked.Load() == 0 {
		t.Fatal("the stalled holder was never asked; the test proves nothing")
	}
}

// TestRepairReadsKShards repairs one lost shard in every segment over
// libp2p (streams with flow control) and counts what the providers sent: a repair that read every shard left
// made them send close to (k+m-1)/k = 1.25 times the file, and more when
// the lost shard's holder still answers; reading the k healthy shards
// first it is the file, a window of each other shard, and the first
// segment read whole (before a segment has been timed).
func TestRepairReadsKShards(t *testing.T) {
	holdOffHedging(t)
	l := startLibp2pNet(t, 8)
	data := testData(64<<20, 33)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2, SegmentChunks: 8})
	m := res.Manifest
	lost := m.K + m.M - 1
	// The lost shards' holders still answer, as a provider whose audits
	// failed may: only the audits say the shards are gone.
	healthy := func(_, j int) bool { return j != lost }
	before := servedBytes(l)
	out, done, err := l.Client.RepairFile(ctxT(t), m, healthy, 0)
	if err != nil || len(done) != len(m.Segments) {
		t.Fatalf("RepairFile = %d segments repaired, %v; want all %d", len(done), err, len(m.Segments))
	}
	for _, r := range done {
		if len(r.Rebuilt) != 1 || r.Rebuilt[0] != lost || out.Segments[r.Segment].Shards[lost].Provider == "" {
			t.Fatalf("segment %d: rebuilt %v on %v; want shard %d placed", r.Segment, r.Rebuilt, r.Placed, lost)
		}
	}
	served := servedBytes(l) - before
	ratio := float64(served) / float64(len(data))
	t.Logf("providers sent %.3f times the file's size for the repair", ratio)
	if ratio > 1.2 {
		t.Errorf("providers sent %.2f times the file (%d bytes for %d); want close to 1", ratio, served, len(data))
	}
}
