package p2p

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/seal"
)

func versionRecord(t *testing.T, updater seal.ManifestKey, original string, seq uint64) (*manifest.VersionRecord, []byte) {
	t.Helper()
	v, err := manifest.SignVersion(manifest.CID([]byte(original)), manifest.CID([]byte{byte(seq)}), seq, updater.UpdaterKey())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v.MarshalBinary()
	return v, b
}

// Version records travel through the DHT between hosts, and the DHT's
// validator keeps out forged, mismatched, malformed and older records.
func TestRecordsThroughDHT(t *testing.T) {
	hs := newNetwork(t, 4)
	ctx := testCtx(t)
	owner := seal.ManifestKey{1}
	v1, b1 := versionRecord(t, owner, "file", 1)
	key := v1.Key()
	if got, err := hs[3].GetRecords(ctx, key); err != nil || len(got) != 0 {
		t.Fatalf("GetRecords before any put = %x, %v, want none", got, err)
	}
	if err := hs[0].PutRecord(ctx, key, b1); err != nil {
		t.Fatalf("PutRecord(v1) = %v", err)
	}
	_, b2 := versionRecord(t, owner, "file", 2)
	if err := hs[1].PutRecord(ctx, key, b2); err != nil {
		t.Fatalf("PutRecord(v2) = %v", err)
	}
	for i, h := range hs {
		got, err := h.GetRecords(ctx, key)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0], b2) {
			t.Errorf("host %d: GetRecords = %d values, %v, want v2", i, len(got), err)
		}
	}

	// Refused where they are put.
	_, thief := versionRecord(t, seal.ManifestKey{2}, "file", 9)
	_, otherFile := versionRecord(t, owner, "other file", 9)
	_, ahead := versionRecord(t, owner, "file", 1<<64-1)
	forged := bytes.Clone(b2)
	forged[len(forged)-1] ^= 1
	for name, b := range map[string][]byte{
		"signed by another key": thief,
		"of another file":       otherFile,
		"bad signature":         forged,
		"malformed":             []byte("DSNV\x01junk"),
		// Signed with the file's key, but a sequence number no later
		// version could exceed.
		"ahead of the clock": ahead,
	} {
		if err := hs[2].PutRecord(ctx, key, b); !errors.Is(err, manifest.ErrVersionRecord) {
			t.Errorf("PutRecord(%s) = %v, want ErrVersionRecord", name, err)
		}
	}
	if err := hs[1].PutRecord(ctx, key, b1); err == nil {
		t.Error("PutRecord(v1 over v2 on the same host) succeeded")
	}
	if err := hs[1].PutRecord(ctx, "/pk/anything", b2); err == nil {
		t.Error("PutRecord in a namespace other than dsnv succeeded")
	}
	got, err := hs[3].GetRecords(ctx, key)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0], b2) {
		t.Errorf("after the refused puts: GetRecords = %d values, %v, want v2", len(got), err)
	}
}
