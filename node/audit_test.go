package node

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/proofs/compact"
)

func startAuditNet(t *testing.T, n int) *LocalNetwork {
	t.Helper()
	key := compact.NewKey([32]byte{7})
	l, err := StartLocalNetwork(context.Background(), t.TempDir(), n, LocalOptions{Client: ClientOptions{ShardTimeout: 20 * time.Second, ProofKey: key}})
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

// outcomes renders audits as "segment/shard:outcome" for the shards that
// did not pass, and counts the passes.
func outcomes(audits []ShardAudit) (passed int, others []string) {
	for _, a := range audits {
		if a.Outcome == auditproto.Pass {
			passed++
			continue
		}
		others = append(others, a.ID.Short()+":"+a.Outcome.String())
	}
	return passed, others
}

func TestAuditFile(t *testing.T) {
	l := startAuditNet(t, 6)
	data := testData(4<<20+17, 9)
	res := storeBytes(t, l, data, StoreOptions{K: 4, M: 2})
	m := res.Manifest
	total := len(m.Segments) * (m.K + m.M)
	ctx := ctxT(t)
	beacon := []byte("epoch 1")

	for _, scheme := range []string{SchemeCompact, SchemeMerkle} {
		audits, err := l.Client.AuditFile(ctx, m, scheme, beacon)
		if err != nil {
			t.Fatalf("AuditFile(%s): %v", scheme, err)
		}
		if passed, others := outcomes(audits); passed != total || len(audits) != total {
			t.Fatalf("AuditFile(%s) of an intact file: %d of %d passed; others %v", scheme, passed, total, others)
		}
		digests := map[[32]byte]bool{}
		for _, a := range audits {
			if a.ProofBytes == 0 || a.Latency <= 0 || a.Scheme != scheme || a.Digest == ([32]byte{}) {
				t.Errorf("audit of %s = %+v, want proof bytes, a latency, a transcript digest and scheme %s", a.ID.Short(), a, scheme)
			}
			digests[a.Digest] = true
		}
		if len(digests) != len(audits) {
			t.Errorf("%d audits share %d transcript digests, want one each", len(audits), len(digests))
		}
	}

	// The outboards were built as the shards arrived: no provider read a
	// shard back to build one.
	for _, p := range l.Providers {
		if n := p.Audit.Stats().OutboardsBuilt; n != 0 {
			t.Errorf("%s built %d outboards from stored shards, want 0", l.Name(p.ID), n)
		}
	}

	// One provider's aggregated proof covers all it holds.
	p := m.Segments[0].Shards[0].Provider
	var targets []compact.Target
	for i, seg := range m.Segments {
		for _, sh := range seg.Shards {
			if sh.Provider == p {
				targets = append(targets, compact.Target{ID: sh.ID, Size: m.ShardSize(i)})
			}
		}
	}
	if r := l.Client.AuditProvider(ctx, p, targets, beacon); r.Outcome != auditproto.Pass || len(targets) < 2 {
		t.Fatalf("AuditProvider over %d shards = %v (%v), want a pass", len(targets), r.Outcome, r.Reason)
	}

	// Zero one shard's file on disk behind its store's back: that shard,
	// and only it, fails both schemes, and so does its provider's
	// aggregated proof.
	bad := m.Segments[0].Shards[0]
	path := shardFile(t, l.Provider(bad.Provider), bad.ID)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, fi.Size()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{SchemeCompact, SchemeMerkle} {
		audits, err := l.Client.AuditFile(ctx, m, scheme, beacon)
		if err != nil {
			t.Fatal(err)
		}
		passed, others := outcomes(audits)
		if passed != total-1 || len(others) != 1 || others[0] != bad.ID.Short()+":"+auditproto.Fail.String() {
			t.Errorf("AuditFile(%s) after zeroing %s: %d passed, others %v; want only it failed", scheme, bad.ID.Short(), passed, others)
		}
	}
	if r := l.Client.AuditProvider(ctx, bad.Provider, targets, beacon); r.Outcome != auditproto.Fail {
		t.Errorf("AuditProvider with one zeroed shard = %v, want fail", r.Outcome)
	}

	// A provider that is gone misses its challenges.
	gone := m.Segments[0].Shards[1].Provider
	l.Kill(gone)
	audits, err := l.Client.AuditFile(ctx, m, SchemeMerkle, beacon)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range audits {
		if a.Provider == gone && a.Outcome != auditproto.Missed {
			t.Errorf("audit of %s on a killed provider = %v, want missed", a.ID.Short(), a.Outcome)
		}
	}
}

func TestAuditNeedsTheKeyForCompact(t *testing.T) {
	l := startNet(t, 6)
	res := storeBytes(t, l, testData(1<<20, 3), StoreOptions{K: 4, M: 2})
	if _, err := l.Client.AuditFile(ctxT(t), res.Manifest, SchemeCompact, nil); err == nil || !strings.Contains(err.Error(), "key") {
		t.Errorf("compact audit without a key = %v, want an error about the key", err)
	}
	if _, err := l.Client.AuditFile(ctxT(t), res.Manifest, "sha1", nil); err == nil {
		t.Error("audit with an unknown scheme succeeded")
	}
	// Stored without a key, the shards carry no tags; Merkle audits work
	// for anyone.
	audits, err := l.Client.AuditFile(ctxT(t), res.Manifest, SchemeMerkle, nil)
	if err != nil {
		t.Fatal(err)
	}
	if passed, others := outcomes(audits); len(others) != 0 || passed == 0 {
		t.Errorf("Merkle audit of an intact file: %d passed, others %v", passed, others)
	}
}

// Tags are taken only from the peer that sent the shard's bytes: anyone
// else would make providers keep tags under as many peer IDs as it likes.
func TestTagsOnlyFromTheShardsSender(t *testing.T) {
	l := startAuditNet(t, 6)
	res := storeBytes(t, l, testData(1<<20, 5), StoreOptions{K: 4, M: 2})
	sh := res.Manifest.Segments[0].Shards[0]
	stranger := l.Net.Add("stranger")
	tags := make([]byte, compact.TagsSize(res.Manifest.ShardSize(0)))
	err := auditproto.PutTags(ctxT(t), stranger, sh.Provider, sh.ID, tags)
	if !errors.Is(err, auditproto.ErrRefused) {
		t.Fatalf("PutTags from a peer that did not store the shard = %v, want ErrRefused", err)
	}
}
