package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/chunker"
	"github.com/dsn-project/dsn/erasure"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node/shardproto"
	"github.com/dsn-project/dsn/seal"
)

// Small segments keep the tests fast while still crossing segment
// boundaries: two 1 MiB chunks per segment.
const testSegmentChunks = 2

func startNet(t *testing.T, n int) *LocalNetwork {
	t.Helper()
	l, err := StartLocalNetwork(context.Background(), t.TempDir(), n, LocalOptions{Client: ClientOptions{ShardTimeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

func testData(n int64, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func storeBytes(t *testing.T, l *LocalNetwork, data []byte, opts StoreOptions) *StoreResult {
	t.Helper()
	if opts.SegmentChunks == 0 {
		opts.SegmentChunks = testSegmentChunks
	}
	res, err := l.Client.Store(ctxT(t), bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("Store(%d bytes): %v", len(data), err)
	}
	return res
}

func retrieveBytes(t *testing.T, l *LocalNetwork, ref manifest.Reference) ([]byte, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	if _, err := l.Client.RetrieveFile(ctxT(t), ref, out, false, nil); err != nil {
		if _, statErr := os.Stat(out); statErr == nil {
			t.Errorf("failed retrieval left %s behind", out)
		}
		return nil, err
	}
	return os.ReadFile(out)
}

func TestStoreRetrieveRoundTrip(t *testing.T) {
	l := startNet(t, 8)
	stride := int64(chunker.DefaultChunkSize)
	seg := testSegmentChunks * stride
	sizes := []int64{0, 1, 12, stride - 1, stride, stride + 1, seg, seg + 1, 3*seg + 5}
	for _, public := range []bool{false, true} {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("public=%v/size=%d", public, size), func(t *testing.T) {
				data := testData(size, byte(size))
				res := storeBytes(t, l, data, StoreOptions{Public: public})
				if (res.Reference.Key == nil) != public {
					t.Errorf("reference %s: has key = %v, want %v", res.Reference, res.Reference.Key != nil, !public)
				}
				want, err := chunker.RootCID(bytes.NewReader(data), "")
				if err != nil {
					t.Fatal(err)
				}
				if !res.Manifest.Root.Equals(want) {
					t.Errorf("manifest root = %s, want %s", res.Manifest.Root, want)
				}
				got, err := retrieveBytes(t, l, res.Reference)
				if err != nil {
					t.Fatalf("retrieve: %v", err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("retrieved %d bytes that differ from the %d stored", len(got), len(data))
				}
			})
		}
	}
}

func TestShardsOnDistinctProviders(t *testing.T) {
	l := startNet(t, 8)
	res := storeBytes(t, l, testData(5<<20, 1), StoreOptions{K: 3, M: 3})
	for i, seg := range res.Manifest.Segments {
		seen := map[dsn.PeerID]bool{}
		for j, sh := range seg.Shards {
			if seen[sh.Provider] {
				t.Errorf("segment %d: shard %d on %s, which already holds another shard of the segment", i, j, sh.Provider)
			}
			seen[sh.Provider] = true
			size, err := l.Provider(sh.Provider).Store.StatShard(context.Background(), sh.ID)
			if err != nil || size != res.Manifest.ShardSize(i) {
				t.Errorf("segment %d shard %d: provider %s has size %d, %v; want %d", i, j, sh.Provider, size, err, res.Manifest.ShardSize(i))
			}
		}
	}
}

func TestRetrieveSurvivesLosingMProviders(t *testing.T) {
	for _, km := range [][2]int{{4, 2}, {2, 3}, {5, 1}} {
		k, m := km[0], km[1]
		t.Run(fmt.Sprintf("k=%d,m=%d", k, m), func(t *testing.T) {
			l := startNet(t, k+m+1)
			data := testData(7<<20+3, 2)
			res := storeBytes(t, l, data, StoreOptions{K: k, M: m})
			for _, p := range DataHolders(res.Manifest, m) {
				l.Kill(p)
			}
			got, err := retrieveBytes(t, l, res.Reference)
			if err != nil {
				t.Fatalf("retrieve after losing %d providers: %v", m, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("retrieved bytes differ from the stored ones")
			}
		})
	}
}

func TestRetrieveFailsClearlyWithFewerThanKShards(t *testing.T) {
	l := startNet(t, 6)
	res := storeBytes(t, l, testData(3<<20, 3), StoreOptions{K: 4, M: 2})
	// Only segment 0's holders matter: take 3 of its 6 providers away.
	var victims []dsn.PeerID
	for _, sh := range res.Manifest.Segments[0].Shards[:3] {
		victims = append(victims, sh.Provider)
	}
	// The manifest must stay reachable so the failure is the shards'.
	id, _ := manifest.BlobID(res.Reference.Manifest)
	for _, v := range victims {
		l.Kill(v)
	}
	_, err := retrieveBytes(t, l, res.Reference)
	if err == nil {
		t.Fatal("retrieve with 3 of 6 shards succeeded")
	}
	if errors.Is(err, ErrManifestNotFound) {
		t.Skipf("every manifest replica was on a killed provider (blob %s); nothing to learn", id.Short())
	}
	if !errors.Is(err, ErrNotEnoughShards) || !strings.Contains(err.Error(), "segment 0") || !strings.Contains(err.Error(), "3 of 6") {
		t.Fatalf("error = %v; want ErrNotEnoughShards naming segment 0 and 3 of 6", err)
	}
}

// shardFile finds the file a disk store keeps a shard's bytes in.
func shardFile(t *testing.T, p *Provider, id dsn.ShardID) string {
	t.Helper()
	h := id.String()
	path := filepath.Join(p.Dir, "shards", h[:2], h)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("shard file of %s: %v", id.Short(), err)
	}
	return path
}

func TestCorruptShardIsRoutedAround(t *testing.T) {
	for _, how := range []string{"flip", "truncate"} {
		t.Run(how, func(t *testing.T) {
			l := startNet(t, 6)
			data := testData(4<<20+17, 4)
			res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2})
			// Damage two data shards of every segment behind the stores'
			// backs: each retrieval must notice and use parity instead.
			for _, seg := range res.Manifest.Segments {
				for _, sh := range seg.Shards[:2] {
					path := shardFile(t, l.Provider(sh.Provider), sh.ID)
					b, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					if how == "flip" {
						b[len(b)/2] ^= 1
					} else {
						b = b[:len(b)-1]
					}
					if err := os.WriteFile(path, b, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := retrieveBytes(t, l, res.Reference)
			if err != nil {
				t.Fatalf("retrieve with 2 corrupt shards per segment: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("retrieved bytes differ from the stored ones")
			}
		})
	}
}

func TestCorruptBeyondParityNeverReturnsWrongBytes(t *testing.T) {
	l := startNet(t, 6)
	data := testData(1<<20, 5)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2})
	for _, sh := range res.Manifest.Segments[0].Shards[:3] {
		path := shardFile(t, l.Provider(sh.Provider), sh.ID)
		b, _ := os.ReadFile(path)
		b[0] ^= 0xff
		os.WriteFile(path, b, 0o600)
	}
	_, err := retrieveBytes(t, l, res.Reference)
	if !errors.Is(err, ErrNotEnoughShards) || !errors.Is(err, dsn.ErrCorruptShard) {
		t.Fatalf("retrieve with 3 corrupt of 6 = %v; want ErrNotEnoughShards caused by ErrCorruptShard", err)
	}
}

func TestRetrieveWithWrongOrMissingKey(t *testing.T) {
	l := startNet(t, 6)
	res := storeBytes(t, l, []byte("hello world\n"), StoreOptions{})
	var other seal.Key
	other[0] = 1
	wrong := manifest.Reference{Manifest: res.Reference.Manifest, Key: &other}
	if _, err := retrieveBytes(t, l, wrong); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("retrieve with the wrong key = %v, want seal.ErrAuth", err)
	}
	nokey := manifest.Reference{Manifest: res.Reference.Manifest}
	if _, err := retrieveBytes(t, l, nokey); err == nil || !strings.Contains(err.Error(), "key") {
		t.Errorf("retrieve without a key = %v, want an error about the missing key", err)
	}
}

func TestRetrieveUnknownManifest(t *testing.T) {
	l := startNet(t, 6)
	res := storeBytes(t, l, []byte("something"), StoreOptions{Public: true})
	other := manifest.Reference{Manifest: manifest.CID([]byte("no such manifest"))}
	if _, err := retrieveBytes(t, l, other); !errors.Is(err, ErrManifestNotFound) {
		t.Errorf("retrieve of an unknown manifest = %v, want ErrManifestNotFound", err)
	}
	_ = res
}

func TestRetrieveFileDoesNotOverwrite(t *testing.T) {
	l := startNet(t, 6)
	res := storeBytes(t, l, []byte("new contents"), StoreOptions{})
	out := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(out, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := l.Client.RetrieveFile(ctxT(t), res.Reference, out, false, nil)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("RetrieveFile over an existing file = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious" {
		t.Fatalf("existing file changed to %q", b)
	}
	if _, err := l.Client.RetrieveFile(ctxT(t), res.Reference, out, true, nil); err != nil {
		t.Fatalf("RetrieveFile with force: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "new contents" {
		t.Fatalf("forced retrieval wrote %q", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Fatalf("output directory holds %d entries, want only the output (no temporary files)", len(entries))
	}
}

// A directory is refused as an output before anything is fetched, with
// or without force, and a path ending in a separator is taken as one.
func TestRetrieveFileRefusesDirectories(t *testing.T) {
	l := startNet(t, 6)
	res := storeBytes(t, l, []byte("contents"), StoreOptions{})
	dir := t.TempDir()
	for _, c := range []struct {
		path  string
		force bool
	}{{dir, false}, {dir, true}, {filepath.Join(dir, "new") + string(filepath.Separator), false}} {
		if _, err := l.Client.RetrieveFile(ctxT(t), res.Reference, c.path, c.force, nil); !errors.Is(err, ErrOutputIsDir) {
			t.Errorf("RetrieveFile(%q, force %t) = %v, want ErrOutputIsDir", c.path, c.force, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the directory holds %d entries after refused retrievals, want none", len(entries))
	}
}

func TestStoreRejectsBadParameters(t *testing.T) {
	l := startNet(t, 6)
	tests := []struct {
		name string
		opts StoreOptions
		want string
	}{
		{"k=0", StoreOptions{K: 0, M: 2}, "k=0"},
		{"m<0", StoreOptions{K: 4, M: -1}, "m=-1"},
		{"k+m>256", StoreOptions{K: 200, M: 57}, "k+m <= 256"},
		{"more shards than providers", StoreOptions{K: 5, M: 2}, "7 needed"},
		{"bad chunker", StoreOptions{K: 4, M: 2, Chunker: "rabin-1-2-3x"}, "rabin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.Client.Store(ctxT(t), strings.NewReader("data"), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Store(%+v) = %v, want an error mentioning %q", tt.opts, err, tt.want)
			}
		})
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func TestStoreReportsReadErrors(t *testing.T) {
	l := startNet(t, 6)
	_, err := l.Client.Store(ctxT(t), &failingReader{n: 3 << 20}, StoreOptions{SegmentChunks: testSegmentChunks})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Store from a failing reader = %v, want the read error", err)
	}
}

func TestStoreMovesOnWhenProviderIsFull(t *testing.T) {
	// Each provider has room for one 512 KiB shard (and a small manifest):
	// a 4 MiB file in 2 MiB segments needs all 12 providers, so the second
	// segment must skip the full ones among its closest peers.
	const capacity = 600_000
	l, err := StartLocalNetwork(context.Background(), t.TempDir(), 12, LocalOptions{Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	data := testData(4<<20, 6)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2})
	got, err := retrieveBytes(t, l, res.Reference)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("retrieve = %v (equal=%v)", err, bytes.Equal(got, data))
	}
	for _, p := range l.Providers {
		u, _ := p.Store.Usage(context.Background())
		if u.Used > capacity {
			t.Errorf("%s uses %d bytes, over its capacity of %d", p.ID, u.Used, capacity)
		}
	}
	// A third segment has nowhere to go.
	_, err = l.Client.Store(ctxT(t), bytes.NewReader(testData(2<<20, 7)), StoreOptions{SegmentChunks: testSegmentChunks})
	if !errors.Is(err, ErrNotEnoughProviders) {
		t.Fatalf("Store on a full network = %v, want ErrNotEnoughProviders", err)
	}
}

var _ io.Reader = (*failingReader)(nil)

// waitFor waits for cond, failing the test after a deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatal("condition not met within 10s")
		case <-tick.C:
		}
	}
}

// TestRetrieveRejectsBadManifests stores blobs that hash to their CID but
// are not manifests, as a hostile writer could: retrieval must refuse them
// with an error that says so, and write nothing.
func TestRetrieveRejectsBadManifests(t *testing.T) {
	l := startNet(t, 6)
	res := storeBytes(t, l, []byte("a file"), StoreOptions{Public: true})
	good, err := res.Manifest.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		blob []byte
		want error
	}{
		{"garbage", []byte("this is not a manifest envelope"), manifest.ErrFormat},
		{"bare manifest without envelope", good, manifest.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := manifest.Reference{Manifest: manifest.CID(tt.blob)}
			id, err := manifest.BlobID(ref.Manifest)
			if err != nil {
				t.Fatal(err)
			}
			p := l.Providers[0]
			if err := p.Store.ReceiveShard(context.Background(), id, int64(len(tt.blob)), bytes.NewReader(tt.blob)); err != nil {
				t.Fatal(err)
			}
			_, err = retrieveBytes(t, l, ref)
			if !errors.Is(err, tt.want) {
				t.Fatalf("retrieve = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSegmentSizeBounds(t *testing.T) {
	const stride = 1<<20 + 16
	tests := []struct {
		chunks, k, m int
		want         int64 // 0: an error
	}{
		{0, 4, 2, erasure.DefaultSegmentChunks * stride},
		{3, 4, 2, 3 * stride},
		{0, 1, 255, stride}, // the widest code still fits one chunk per segment
		{2, 1, 255, 0},
		{1025, 4, 2, 0},
		{-1, 4, 2, 0},
	}
	for _, tt := range tests {
		got, err := segmentSize(tt.chunks, stride, tt.k, tt.m)
		if got != tt.want || (err == nil) != (tt.want != 0) {
			t.Errorf("segmentSize(%d, %d, %d, %d) = %d, %v; want %d", tt.chunks, stride, tt.k, tt.m, got, err, tt.want)
		}
		if err == nil {
			coded := int64(tt.k+tt.m) * erasure.ShardSize(got, tt.k)
			if coded > manifest.MaxCodedSegment {
				t.Errorf("segmentSize(%d, %d, %d, %d) = %d, which codes to %d bytes", tt.chunks, stride, tt.k, tt.m, got, coded)
			}
		}
	}
}

// TestStoreMovesOnFromBadProviders adds peers that accept a shard upload
// and then stall, or hang up halfway: the store must give up on them after
// its deadline and place those shards elsewhere.
func TestStoreMovesOnFromBadProviders(t *testing.T) {
	for _, how := range []string{"stall", "hang up"} {
		t.Run(how, func(t *testing.T) {
			l := startNet(t, 6)
			done := make(chan struct{})
			defer close(done)
			var bad []dsn.PeerID
			var tried atomic.Int64
			for i := range 3 {
				id := dsn.PeerID(fmt.Sprintf("bad-%d", i))
				bad = append(bad, id)
				l.Net.Add(id).SetStreamHandler(shardproto.PutProtocol, func(s dsn.Stream) {
					tried.Add(1)
					if how == "hang up" {
						io.CopyN(io.Discard, s, 1000)
						s.Reset()
						return
					}
					<-done
					s.Reset()
				})
			}
			client := NewClient(l.Net.Add("client-2"), ClientOptions{ShardTimeout: 200 * time.Millisecond, MinRate: 1 << 30})
			data := testData(3<<20, 23)
			res, err := client.Store(ctxT(t), bytes.NewReader(data), StoreOptions{SegmentChunks: testSegmentChunks})
			if err != nil {
				t.Fatalf("store with %d bad peers among 9: %v", len(bad), err)
			}
			if tried.Load() == 0 {
				t.Fatal("no upload went to a bad peer; the test proves nothing")
			}
			for i, seg := range res.Manifest.Segments {
				for j, sh := range seg.Shards {
					if slices.Contains(bad, sh.Provider) {
						t.Errorf("segment %d shard %d placed on bad peer %s", i, j, sh.Provider)
					}
				}
			}
			got, err := retrieveBytes(t, l, res.Reference)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("retrieve = %v (equal=%v)", err, bytes.Equal(got, data))
			}
		})
	}
}
