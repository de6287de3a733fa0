package node

import (
	"os"
	"testing"

	"github.com/dsn-project/dsn/manifest"
)

// A holder whose copy of a shard is corrupt, so its audits fail, but
// which is still online, is the closest candidate for that shard again:
// repair must put the rebuilt copy elsewhere, where it is actually stored.
func TestRepairAvoidsTheHolderItReplaces(t *testing.T) {
	l := startNet(t, 8)
	ctx := ctxT(t)
	res := storeBytes(t, l, testData(1<<20, 7), StoreOptions{K: 4, M: 2})
	m := res.Manifest
	bad := m.Segments[0].Shards[0]
	path := shardFile(t, l.Provider(bad.Provider), bad.ID)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, done, err := l.Client.RepairFile(ctx, m, func(s, j int) bool { return !(s == 0 && j == 0) }, 5)
	if err != nil {
		t.Fatalf("RepairFile: %v", err)
	}
	if len(done) != 1 || len(done[0].Placed) != 1 {
		t.Fatalf("RepairFile reports %+v, want shard 0 of segment 0 rebuilt and placed", done)
	}
	now := out.Segments[0].Shards[0]
	if now.Provider == bad.Provider {
		t.Errorf("shard 0 placed back on %s, the holder of the corrupt copy", bad.Provider)
	}
	if _, err := l.Client.getWhole(ctx, now.Provider, now.ID, m.ShardSize(0), nil, nil); err != nil {
		t.Errorf("the new holder of shard 0, %s, cannot serve it: %v", now.Provider, err)
	}
}

// When a rebuilt shard does not match the manifest, nothing of the
// segment is placed, and none of it is reported as rebuilt.
func TestRepairReportsOnlyPlacedShards(t *testing.T) {
	l := startNet(t, 8)
	ctx := ctxT(t)
	res := storeBytes(t, l, testData(1<<20, 7), StoreOptions{K: 4, M: 2})
	m := *res.Manifest
	seg := manifest.Segment{Shards: append([]manifest.Shard(nil), m.Segments[0].Shards...)}
	seg.Shards[5].ID[0] ^= 1 // the manifest does not describe shard 5
	m.Segments = []manifest.Segment{seg}
	_, done, err := l.Client.RepairFile(ctx, &m, func(s, j int) bool { return j < 4 }, 5)
	if err == nil {
		t.Errorf("RepairFile of a manifest that does not describe shard 5 = nil error")
	}
	for _, r := range done {
		if len(r.Rebuilt) != len(r.Placed) {
			t.Errorf("RepairFile reports %+v: %d shards rebuilt but %d placed", r, len(r.Rebuilt), len(r.Placed))
		}
	}
}
