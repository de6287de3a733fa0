package auditproto

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/inproc"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/proofs"
	"github.com/dsn-project/dsn/proofs/compact"
	"github.com/dsn-project/dsn/proofs/merkle"
)

// The store satisfies Holder.
var _ Holder = (*shardstore.Store)(nil)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// shardBytes returns n deterministic bytes that differ per seed, and their
// id.
func shardBytes(seed, n int) ([]byte, dsn.ShardID) {
	b := make([]byte, n)
	x := uint64(seed)*0x9e3779b97f4a7c15 + 1
	for i := 0; i < n; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], x)
		copy(b[i:], w[:])
	}
	return b, dsn.SumShard(b)
}

// epochSeed is the challenge seed of test epoch i: fixed, so every run
// challenges the same places.
func epochSeed(i int) proofs.Seed {
	var r [32]byte
	binary.BigEndian.PutUint64(r[:], uint64(i))
	return proofs.MixSeed(r, []byte("auditproto test beacon"))
}

func ownerKey(name string) *compact.Key {
	var s [32]byte
	copy(s[:], name)
	return compact.NewKey(s)
}

// fixture is a provider with a real store on disk, its owner, and a third
// peer that audits without owning anything.
type fixture struct {
	net      *inproc.Network
	owner    *inproc.Transport
	third    *inproc.Transport
	provider dsn.PeerID
	ptr      *inproc.Transport
	dir      string
	store    *shardstore.Store
	srv      *Server
	key      *compact.Key
	shards   map[dsn.ShardID][]byte
}

func newFixture(t testing.TB, opts ServerOptions) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := shardstore.Open(dir, shardstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	n := inproc.NewNetwork()
	f := &fixture{
		net: n, owner: n.Add("owner"), third: n.Add("auditor"), provider: "provider",
		dir: dir, store: st, key: ownerKey("owner"), shards: map[dsn.ShardID][]byte{},
	}
	f.ptr = n.Add(f.provider)
	f.srv = NewServer(st, opts)
	f.srv.Register(f.ptr)
	return f
}

// add stores a shard of n bytes on the provider.
func (f *fixture) add(t testing.TB, seed, n int) dsn.ShardID {
	t.Helper()
	data, id := shardBytes(seed, n)
	if err := f.store.ReceiveShard(testCtx(t), id, int64(n), bytes.NewReader(data)); err != nil {
		t.Fatalf("ReceiveShard(%d bytes) = %v", n, err)
	}
	f.shards[id] = data
	return id
}

// tag computes the owner's tags of a shard and hands them to the provider.
func (f *fixture) tag(t testing.TB, id dsn.ShardID) {
	t.Helper()
	tags, err := f.key.Tags(id, f.shards[id])
	if err != nil {
		t.Fatal(err)
	}
	if err := PutTags(testCtx(t), f.owner, f.provider, id, tags); err != nil {
		t.Fatalf("PutTags(%s) = %v", id.Short(), err)
	}
}

func (f *fixture) size(id dsn.ShardID) int64 { return int64(len(f.shards[id])) }

// shardPath is where the store keeps a shard's bytes (see shardstore's
// doc): tests write there behind the store's back.
func (f *fixture) shardPath(id dsn.ShardID) string {
	return filepath.Join(f.dir, "shards", id.String()[:2], id.String())
}

// overwrite writes b at off into the stored file of id.
func (f *fixture) overwrite(t testing.TB, id dsn.ShardID, off int64, b []byte) {
	t.Helper()
	file, err := os.OpenFile(f.shardPath(id), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
}

func challenge(t testing.TB, seed proofs.Seed, c int, targets ...compact.Target) *compact.Challenge {
	t.Helper()
	ch, err := compact.NewChallenge(seed, c, targets)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// honestMerkle is the encoded proof an honest prover sends.
func honestMerkle(t testing.TB, data []byte, seed proofs.Seed, c int) []byte {
	t.Helper()
	ob, err := merkle.BuildOutboard(data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := merkle.Prove(seed, c, dsn.SumShard(data), bytes.NewReader(data), int64(len(data)), ob)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// honestCompact is the encoded compact proof over shards, each in memory.
func honestCompact(t testing.TB, key *compact.Key, ch *compact.Challenge, shards map[dsn.ShardID][]byte) []byte {
	t.Helper()
	pr := compact.NewProver(ch)
	for i, tg := range ch.Targets() {
		data := shards[tg.ID]
		tags, err := key.Tags(tg.ID, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := pr.Add(i, bytes.NewReader(data), bytes.NewReader(tags)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := pr.Proof()
	if err != nil {
		t.Fatal(err)
	}
	return p.Encode()
}

// cheater speaks the protocol on a transport but answers as do(st, req)
// decides.
func cheater(tr *inproc.Transport, do func(st dsn.Stream, req request)) {
	tr.SetStreamHandler(Protocol, func(st dsn.Stream) {
		body, err := readFrame(st, MaxRequestSize)
		if err != nil {
			_ = st.Reset()
			return
		}
		req, err := decodeRequest(body)
		if err != nil {
			_ = st.Reset()
			return
		}
		do(st, req)
	})
}

// answer sends an OK reply announcing len(proof) bytes, the proof, and
// closes.
func answer(st dsn.Stream, proof []byte) {
	_ = writeFrame(st, reply{code: CodeOK, length: int64(len(proof))})
	_, _ = st.Write(proof)
	_ = st.Close()
}

// drain reads a stream to its end, as a test peer that ignores input.
func drain(st dsn.Stream) { _, _ = io.Copy(io.Discard, st) }
