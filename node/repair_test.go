package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/erasure"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/proofs/compact"
	"github.com/dsn-project/dsn/seal"
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
	repaired, done, rec, err := l.Client.RepairAndPublish(ctx, res.RepairCap, m, func(s, j int) bool { return pass[[2]int{s, j}] }, 0)
	if err != nil {
		t.Fatalf("RepairAndPublish: %v", err)
	}
	if len(done) == 0 || rec == nil {
		t.Fatalf("RepairAndPublish after two holders vanished: %d segments repaired, version %v", len(done), rec)
	}
	// The version went through the DHT: the reference opens the repaired
	// manifest.
	if got, err := l.Client.FetchManifest(ctx, res.Reference); err != nil || !reflect.DeepEqual(got, repaired) {
		t.Fatalf("FetchManifest(reference) after the version = %v, not the repaired manifest", err)
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

// syncBuffer is a log sink tests can read while clients write to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startVersionNet starts an in-process network whose client logs to the
// returned buffer.
func startVersionNet(t *testing.T, n int) (*LocalNetwork, *syncBuffer) {
	t.Helper()
	logs := new(syncBuffer)
	l, err := StartLocalNetwork(context.Background(), t.TempDir(), n, LocalOptions{Memory: true, Client: ClientOptions{
		ShardTimeout: 20 * time.Second, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, logs
}

// A node that holds only a file's repair capability cannot read the file,
// but can repair it after shards are lost and publish the result; the
// owner's reference then retrieves the file byte for byte through the new
// version. The in-process network keeps no provider records, so without
// the version the rebuilt shards could not be found.
func TestRepairCapRepairsAndReferenceFollows(t *testing.T) {
	l, _ := startVersionNet(t, 10)
	ctx := ctxT(t)
	data := testData(5<<20+77, 31)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2})
	rc, err := manifest.ParseRepairCap(res.RepairCap.String())
	if err != nil {
		t.Fatal(err)
	}
	if derived, _ := res.Reference.RepairCap(); derived != rc {
		t.Fatalf("StoreResult.RepairCap = %v, want the one derived from the reference", rc)
	}
	repairer := NewClient(l.Net.Add("repairer"), ClientOptions{ShardTimeout: 20 * time.Second})

	// The capability opens the manifest but not the content.
	m, err := repairer.FetchManifestCap(ctx, rc)
	if err != nil {
		t.Fatalf("FetchManifestCap: %v", err)
	}
	code, _ := erasure.New(m.K, m.M)
	seg, err := repairer.fetchSegment(ctx, m, code, 0, make([]byte, int64(m.K+m.M)*m.ShardSize(0)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	chunk0 := seg[:m.ChunkSize+seal.Overhead]
	withCap, _ := seal.NewChunkCipher(seal.Key(rc.Key), m.FileID, m.Cipher)
	if _, err := withCap.Open(nil, chunk0, 0); !errors.Is(err, seal.ErrAuth) {
		t.Fatalf("opening a chunk with the repair capability's key = %v, want ErrAuth", err)
	}
	withRef, _ := seal.NewChunkCipher(*res.Reference.Key, m.FileID, m.Cipher)
	if plain, err := withRef.Open(nil, chunk0, 0); err != nil || !bytes.Equal(plain, data[:m.ChunkSize]) {
		t.Fatalf("opening a chunk with the reference's key = %v", err)
	}
	asRef := manifest.Reference{Manifest: rc.Manifest, Key: (*seal.Key)(&rc.Key)}
	if _, err := repairer.Retrieve(ctx, asRef, io.Discard, nil); !errors.Is(err, seal.ErrAuth) {
		t.Fatalf("Retrieve with the capability's key as a file key = %v, want ErrAuth", err)
	}

	// Two holders of segment 0 go; the repairer audits and repairs.
	first := DataHolders(m, 2)
	for _, p := range first {
		l.Kill(p)
	}
	audits, err := repairer.AuditFile(ctx, m, SchemeMerkle, []byte("repairer"))
	if err != nil {
		t.Fatal(err)
	}
	pass := map[[2]int]bool{}
	for _, a := range audits {
		pass[[2]int{a.Segment, a.Shard}] = a.Outcome == auditproto.Pass
	}
	repaired, done, rec, err := repairer.RepairAndPublish(ctx, rc, m, func(s, j int) bool { return pass[[2]int{s, j}] }, 0)
	if err != nil || len(done) == 0 || rec == nil {
		t.Fatalf("RepairAndPublish = %d segments, record %v, %v", len(done), rec, err)
	}
	if rec.Original != res.Reference.Manifest || rec.Seq == 0 {
		t.Fatalf("version record = %+v, want one for %s", rec, res.Reference.Manifest)
	}

	// The owner's reference now opens the repaired manifest.
	got, err := l.Client.FetchManifest(ctx, res.Reference)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, repaired) {
		t.Fatal("FetchManifest(reference) did not follow the published version")
	}
	// Two more original holders of segment 0 go, none holding a rebuilt
	// shard: only the new version knows where the rebuilt ones are.
	rebuiltOn := map[dsn.PeerID]bool{}
	for _, r := range done {
		for _, p := range r.Placed {
			rebuiltOn[p] = true
		}
	}
	gone := map[dsn.PeerID]bool{first[0]: true, first[1]: true}
	killed := 0
	for _, sh := range m.Segments[0].Shards {
		if killed < 2 && !gone[sh.Provider] && !rebuiltOn[sh.Provider] {
			l.Kill(sh.Provider)
			gone[sh.Provider] = true
			killed++
		}
	}
	out, err := retrieveBytes(t, l, res.Reference)
	if err != nil {
		t.Fatalf("retrieve by the reference after the repairer's version: %v", err)
	}
	if !bytes.Equal(out, data) {
		t.Fatal("retrieved bytes differ")
	}
}

// Versions that must not be followed: each is put in the record store,
// and the reference must still open the manifest it should, with a
// warning in the log, and retrieve the right bytes.
func TestForgedVersionsAreIgnored(t *testing.T) {
	l, logs := startVersionNet(t, 8)
	ctx := ctxT(t)
	data := testData(3<<20+5, 41)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2})
	ref, orig := res.Reference, res.Manifest
	rc, _ := ref.RepairCap()
	store := l.Client.records
	key := manifest.VersionKey(ref.Manifest, orig.Updater)
	put := func(b []byte) {
		t.Helper()
		if err := store.PutRecord(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	// moved returns the manifest with two shards' hints swapped in
	// segment seg: same content, other hints.
	moved := func(seg int) *manifest.Manifest {
		m := *orig
		m.Segments = slices.Clone(orig.Segments)
		sh := slices.Clone(m.Segments[seg].Shards)
		sh[0].Provider, sh[1].Provider = sh[1].Provider, sh[0].Provider
		m.Segments[seg].Shards = sh
		return &m
	}
	check := func(name string, want *manifest.Manifest, warning string) {
		t.Helper()
		got, err := l.Client.FetchManifest(ctx, ref)
		if err != nil {
			t.Fatalf("%s: FetchManifest = %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: FetchManifest returned the wrong version", name)
		}
		if warning != "" && !strings.Contains(logs.String(), warning) {
			t.Errorf("%s: no warning %q in the log:\n%s", name, warning, logs)
		}
		out, err := retrieveBytes(t, l, ref)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("%s: retrieve = %v (equal bytes: %v)", name, err, bytes.Equal(out, data))
		}
	}

	// Malformed bytes from the network.
	put([]byte("DSNV\x01 not a record"))
	put(nil)
	check("malformed record", orig, "ignoring manifest version record")

	// A version signed by another key, stored under the file's key: its
	// manifest moves every hint, but it is not the updater's.
	thief := seal.ManifestKey{7}
	blob, err := manifest.Seal(moved(0), rc.Key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Client.putManifest(ctx, manifest.Reference{Manifest: manifest.CID(blob)}, blob, 2); err != nil {
		t.Fatal(err)
	}
	forged, _ := manifest.SignVersion(ref.Manifest, manifest.CID(blob), 1<<62, thief.UpdaterKey())
	fb, _ := forged.MarshalBinary()
	put(fb)
	check("version signed by another key", orig, "stored under another key")
	// The same, claiming to be the file's updater.
	claimed := *forged
	claimed.Updater = orig.Updater
	cb, _ := claimed.MarshalBinary()
	put(cb)
	check("version claiming the updater's key", orig, "signature does not verify")

	// A version signed with the real capability whose manifest changes
	// the content: another shard ID, or another root.
	for name, edit := range map[string]func(m *manifest.Manifest){
		"shard id": func(m *manifest.Manifest) {
			sh := slices.Clone(m.Segments[1].Shards)
			sh[2].ID = dsn.SumShard([]byte("other"))
			m.Segments[1].Shards = sh
		},
		"root": func(m *manifest.Manifest) { m.Root = manifest.CID([]byte("other root")) },
	} {
		bad := moved(0)
		edit(bad)
		if _, err := l.Client.PublishVersion(ctx, rc, bad); err != nil {
			t.Fatal(err)
		}
		check("version changing the "+name, orig, "ignoring manifest version: it changes the file")
	}

	// Two genuine versions, then the older one replayed.
	v1 := moved(0)
	r1, err := l.Client.PublishVersion(ctx, rc, v1)
	if err != nil {
		t.Fatal(err)
	}
	check("first version", v1, "")
	v2 := moved(1)
	r2, err := l.Client.PublishVersion(ctx, rc, v2)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Seq <= r1.Seq {
		t.Fatalf("second version has sequence number %d, first %d", r2.Seq, r1.Seq)
	}
	check("second version", v2, "")
	b1, _ := r1.MarshalBinary()
	put(b1)
	check("replayed first version", v2, "")

	// A version signed with the real capability and the largest sequence
	// number, which would otherwise win over every later version: refused
	// as ahead of the clock, and the owner's next version supersedes the
	// second as if it were not there.
	pinned, err := manifest.SignVersion(ref.Manifest, manifest.CID(blob), math.MaxUint64, rc.Key.UpdaterKey())
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := pinned.MarshalBinary()
	put(pb)
	check("version far ahead of the clock", v2, "ahead of this peer's clock")
	v3 := moved(0) // differs from both: hints moved in both segments
	sh := slices.Clone(v3.Segments[1].Shards)
	sh[2].Provider, sh[3].Provider = sh[3].Provider, sh[2].Provider
	v3.Segments[1].Shards = sh
	r3, err := l.Client.PublishVersion(ctx, rc, v3)
	if err != nil {
		t.Fatalf("PublishVersion after a pinned version: %v", err)
	}
	if r3.Seq <= r2.Seq {
		t.Fatalf("third version has sequence number %d, second %d", r3.Seq, r2.Seq)
	}
	check("version after a pinned one", v3, "")

	// A capability of another file cannot publish for this one.
	other := seal.ManifestKey{9}
	if _, err := l.Client.PublishVersion(ctx, manifest.RepairCap{Manifest: ref.Manifest, Key: other}, v1); !errors.Is(err, ErrWrongCap) {
		t.Errorf("PublishVersion with another file's capability = %v, want ErrWrongCap", err)
	}

	// Republishing keeps the newest, whatever the caller kept.
	got, err := l.Client.RepublishVersion(ctx, ref.Manifest, orig.Updater, b1)
	b3, _ := r3.MarshalBinary()
	if err != nil || !bytes.Equal(got, b3) {
		t.Errorf("RepublishVersion(kept the first) = %v, want the third", err)
	}
}

// A public file's capability is random, kept by its owner; it signs
// versions the same way.
func TestPublicFileVersion(t *testing.T) {
	l, _ := startVersionNet(t, 8)
	ctx := ctxT(t)
	data := testData(1<<20+9, 51)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2, Public: true})
	if _, ok := res.Reference.RepairCap(); ok {
		t.Fatal("a public reference yields a repair capability")
	}
	m := *res.Manifest
	m.Segments = slices.Clone(m.Segments)
	sh := slices.Clone(m.Segments[0].Shards)
	sh[0].Provider, sh[1].Provider = sh[1].Provider, sh[0].Provider
	m.Segments[0].Shards = sh
	if _, err := l.Client.PublishVersion(ctx, res.RepairCap, &m); err != nil {
		t.Fatal(err)
	}
	got, err := l.Client.FetchManifest(ctx, res.Reference)
	if err != nil || !reflect.DeepEqual(got, &m) {
		t.Fatalf("FetchManifest(public reference) = %v, did not follow the version", err)
	}
	out, err := retrieveBytes(t, l, res.Reference)
	if err != nil || !bytes.Equal(out, data) {
		t.Fatalf("retrieve = %v", err)
	}
}
