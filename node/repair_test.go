package node

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/proofs/compact"
)

// Two holders of a file's shards vanish; repair rebuilds their shards on
// other providers; then two more of the original holders vanish, and the
// file still comes back by its original reference. Without the repair,
// four of six shards of a segment would be gone.
func TestRepairSurvivesFurtherLoss(t *testing.T) {
	l, err := StartLocalNetwork(context.Background(), t.TempDir(), 10, LocalOptions{
		Libp2p: true, Ledger: true,
		Client: ClientOptions{ShardTimeout: 5 * time.Second, ProofKey: compact.NewKey([32]byte{9})},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ctx := ctxT(t)
	data := testData(5<<20+3, 21)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2})
	m := res.Manifest

	// The first two distinct holders of segment 0 go.
	first := DataHolders(m, 2)
	for _, p := range first {
		l.Kill(p)
	}
	audits, err := l.Client.AuditFile(ctx, m, SchemeCompact, []byte("after loss"))
	if err != nil {
		t.Fatal(err)
	}
	pass := map[[2]int]bool{}
	for _, a := range audits {
		pass[[2]int{a.Segment, a.Shard}] = a.Outcome == auditproto.Pass
	}
	repaired, done, err := l.Client.RepairFile(ctx, m, func(s, j int) bool { return pass[[2]int{s, j}] }, 0)
	if err != nil {
		t.Fatalf("RepairFile: %v", err)
	}
	if len(done) == 0 {
		t.Fatal("no segment repaired after two holders vanished")
	}
	gone := map[dsn.PeerID]bool{first[0]: true, first[1]: true}
	for _, seg := range repaired.Segments {
		seen := map[dsn.PeerID]bool{}
		for j, sh := range seg.Shards {
			if gone[sh.Provider] {
				t.Errorf("shard %d still on a vanished provider after repair", j)
			}
			if seen[sh.Provider] {
				t.Errorf("two shards of a segment on %s after repair", l.Name(sh.Provider))
			}
			seen[sh.Provider] = true
		}
	}
	// Every shard of the repaired file proves.
	after, err := l.Client.AuditFile(ctx, repaired, SchemeCompact, []byte("after repair"))
	if err != nil {
		t.Fatal(err)
	}
	if passed, others := outcomes(after); len(others) != 0 {
		t.Fatalf("after repair: %d passed, others %v", passed, others)
	}

	// Two more of the original holders go (none that holds a rebuilt
	// shard): segment 0 would have kept only 2 of its 6 shards.
	var more []dsn.PeerID
	rebuiltOn := map[dsn.PeerID]bool{}
	for _, r := range done {
		for _, p := range r.Placed {
			rebuiltOn[p] = true
		}
	}
	for _, sh := range m.Segments[0].Shards {
		if len(more) < 2 && !gone[sh.Provider] && !rebuiltOn[sh.Provider] {
			more = append(more, sh.Provider)
			gone[sh.Provider] = true
		}
	}
	for _, p := range more {
		l.Kill(p)
	}
	got, err := retrieveBytes(t, l, res.Reference)
	if err != nil {
		t.Fatalf("retrieve by the original reference after losing 4 original holders: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("retrieved bytes differ")
	}
}
