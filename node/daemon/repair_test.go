package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// A daemon holding only a file's repair capability repairs it after two
// holders vanish and publishes a version; the owner's reference then
// retrieves the file through that version after two more original holders
// vanish. The in-process network announces nothing, so only the version
// tells where the rebuilt shards are.
func TestRepairWithCapability(t *testing.T) {
	n := newTestNet(t, 9)
	owner, orepo, _ := n.startDaemon(t, "owner", 0, APIOptions{})
	_, rrepo, _ := n.startDaemon(t, "repairer", 0, APIOptions{})
	ctx := ctxT(t)
	oc, err := api.Dial(ctx, orepo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	rcl, err := api.Dial(ctx, rrepo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(3<<20+7, 9)
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := oc.StoreFile(ctx, in, api.StoreOptions{K: 4, M: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := manifest.ParseReference(res.Reference)
	if err != nil {
		t.Fatal(err)
	}
	capRes, err := oc.Repair(ctx, api.RepairRequest{Reference: res.Reference, PrintCap: true})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ref.RepairCap()
	if capRes.Cap != want.String() || len(capRes.Segments) != 0 {
		t.Fatalf("Repair(PrintCap) = %+v, want only the capability %s", capRes, want)
	}
	// The repairer does not own the file and cannot read it.
	if _, err := rcl.Repair(ctx, api.RepairRequest{Reference: ref.Manifest.String()}); err == nil {
		t.Fatal("Repair(bare CID) on a node that does not own the file succeeded")
	}

	f, err := owner.files.Get(ref.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	orig := f.Manifest
	first := []dsn.PeerID{orig.Segments[0].Shards[0].Provider, orig.Segments[0].Shards[1].Provider}
	for _, p := range first {
		n.net.Kill(p)
	}
	rr, err := rcl.Repair(ctx, api.RepairRequest{Reference: capRes.Cap})
	if err != nil {
		t.Fatalf("Repair(capability) = %v", err)
	}
	if len(rr.Segments) == 0 || rr.Version == 0 {
		t.Fatalf("Repair(capability) = %+v, want repaired segments and a published version", rr)
	}
	rebuiltOn := map[dsn.PeerID]bool{}
	for _, s := range rr.Segments {
		for _, p := range s.Placed {
			rebuiltOn[dsn.PeerID(p)] = true
		}
	}
	gone := map[dsn.PeerID]bool{first[0]: true, first[1]: true}
	killed := 0
	for _, sh := range orig.Segments[0].Shards {
		if killed < 2 && !gone[sh.Provider] && !rebuiltOn[sh.Provider] {
			n.net.Kill(sh.Provider)
			gone[sh.Provider] = true
			killed++
		}
	}
	var out bytes.Buffer
	if _, err := owner.Client().Retrieve(ctx, ref, &out, nil); err != nil {
		t.Fatalf("retrieve by the owner's reference after the repairer's version: %v", err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("retrieved bytes differ")
	}
	// The owner's republication finds the repairer's version and adopts
	// it: its record of the file moves to the new holders.
	if got := owner.RepublishVersions(ctx); got != 1 {
		t.Errorf("RepublishVersions = %d, want 1", got)
	}
	f, err = owner.files.Get(ref.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	v, err := manifest.ParseVersionRecord(f.Version)
	if err != nil || v.Seq != rr.Version {
		t.Fatalf("owner's kept version record = %v, %v; want version %d", v, err, rr.Version)
	}
	for _, sh := range f.Manifest.Segments[0].Shards {
		if first[0] == sh.Provider || first[1] == sh.Provider {
			t.Errorf("owner's record still names %s, gone before the repair", sh.Provider)
		}
	}
}

// The owner of a public file keeps its repair capability, which the
// reference cannot give, so that it can sign a version after a repair.
func TestPublicFileKeepsRepairCap(t *testing.T) {
	n := newTestNet(t, 6)
	_, orepo, _ := n.startDaemon(t, "owner", 0, APIOptions{})
	ctx := ctxT(t)
	oc, err := api.Dial(ctx, orepo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := oc.Store(ctx, bytes.NewReader(randomBytes(1<<20, 3)), 1<<20, api.StoreOptions{K: 4, M: 2, Public: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Reference, "#") {
		t.Fatalf("public store gave %s, want a reference without a key", res.Reference)
	}
	got, err := oc.Repair(ctx, api.RepairRequest{Reference: res.Reference, PrintCap: true})
	if err != nil {
		t.Fatalf("Repair(PrintCap) of a public file = %v", err)
	}
	rc, err := manifest.ParseRepairCap(got.Cap)
	if err != nil || rc.Manifest.String() != strings.TrimPrefix(res.Reference, "dsn:") {
		t.Errorf("Repair(PrintCap) of a public file = %q (%v), want a capability for %s", got.Cap, err, res.Reference)
	}
}
