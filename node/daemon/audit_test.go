package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsn-project/dsn/node/daemon/api"
	"github.com/dsn-project/dsn/proofs/compact"
)

// The owner's daemon audits its files every epoch: an intact file passes
// everywhere, and a shard corrupted on its provider's disk is reported
// failed by the next epochs, through the API, while the others still
// pass.
func TestSchedulerCatchesACorruptShard(t *testing.T) {
	n := newTestNet(t, 5)
	_, prepo, _ := n.startDaemon(t, "provider", 64<<20, APIOptions{})
	_, crepo, _ := n.startDaemonWith(t, "client", func(c *Config) {
		c.Capacity = 0
		c.Epoch = Duration(time.Second)
	}, Options{ProofKey: compact.NewKey([32]byte{1})})
	ctx := ctxT(t)
	c, err := api.Dial(ctx, crepo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, randomBytes(3<<20, 5), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := c.StoreFile(ctx, in, api.StoreOptions{K: 4, M: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	manifest := strings.TrimPrefix(strings.SplitN(res.Reference, "#", 2)[0], "dsn:")

	// wait polls the file's health until ok accepts it.
	wait := func(what string, ok func(api.File) bool) api.File {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var last api.File
		for {
			fs, err := c.Files(ctx, manifest)
			if err != nil {
				t.Fatalf("Files: %v", err)
			}
			if len(fs.Files) != 1 {
				t.Fatalf("Files(%s) = %d files, want 1", manifest, len(fs.Files))
			}
			last = fs.Files[0]
			if ok(last) {
				return last
			}
			if time.Now().After(deadline) {
				t.Fatalf("no epoch audit showed %s within 20 s; last health: %+v", what, last)
			}
			<-tick.C
		}
	}
	f := wait("every shard passing", func(f api.File) bool { return f.Healthy == 6 })
	var onDisk api.FileShard
	for _, sh := range f.Shards {
		if sh.Scheme != "compact" || sh.ProofBytes != compact.ProofSize {
			t.Errorf("shard %d/%d audited with %s, %d proof bytes; want compact, %d", sh.Segment, sh.Shard, sh.Scheme, sh.ProofBytes, compact.ProofSize)
		}
		if sh.Provider == "provider" {
			onDisk = sh
		}
	}
	if onDisk.Provider == "" {
		t.Fatalf("no shard on the provider daemon: %+v", f.Shards)
	}

	// Corrupt that shard's file behind the store's back.
	path := filepath.Join(prepo.Dir, ShardsDir, "shards", onDisk.ID[:2], onDisk.ID)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i += 1000 {
		b[i] ^= 1
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	corrupted := time.Now()
	f = wait("the corrupted shard failing", func(f api.File) bool {
		sh := f.Shards[onDisk.Segment*6+onDisk.Shard]
		return sh.Result == api.ResultFail
	})
	failed := f.Shards[onDisk.Segment*6+onDisk.Shard]
	if failed.Fails == 0 || !strings.Contains(failed.Reason, "does not verify") {
		t.Errorf("failed shard = %+v, want a failure counted, saying the proof does not verify", failed)
	}
	at, err := time.Parse(time.RFC3339, failed.Time)
	if err != nil || at.Before(corrupted.Truncate(time.Second)) {
		t.Errorf("failure recorded at %q, before the corruption at %v", failed.Time, corrupted)
	}
	if f.Healthy != 5 {
		t.Errorf("healthy shards = %d, want the other 5: %+v", f.Healthy, f.Shards)
	}
}
