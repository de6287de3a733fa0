package manifest

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/seal"
)

func testUpdater(seed string) ed25519.PrivateKey {
	var mk seal.ManifestKey
	copy(mk[:], seed)
	return mk.UpdaterKey()
}

func signed(t testing.TB, seq uint64, key ed25519.PrivateKey) (*VersionRecord, []byte) {
	t.Helper()
	v, err := SignVersion(CID([]byte("original")), CID([]byte(fmt.Sprint("next ", seq))), seq, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return v, b
}

func TestVersionRecordRoundTrip(t *testing.T) {
	key := testUpdater("owner")
	for _, seq := range []uint64{1, 127, 128, 1 << 40, 1<<64 - 1} {
		v, b := signed(t, seq, key)
		if len(b) > MaxVersionRecordSize {
			t.Errorf("seq %d: %d bytes, more than MaxVersionRecordSize %d", seq, len(b), MaxVersionRecordSize)
		}
		got, err := ParseVersionRecord(b)
		if err != nil {
			t.Fatalf("ParseVersionRecord(seq %d) = %v", seq, err)
		}
		if *got != *v {
			t.Errorf("ParseVersionRecord = %+v, want %+v", got, v)
		}
		checkLead(t, v, b)
	}
	if _, err := SignVersion(CID([]byte("o")), CID([]byte("n")), 0, key); !errors.Is(err, ErrVersionRecord) {
		t.Errorf("SignVersion(seq 0) = %v, want ErrVersionRecord", err)
	}
}

// checkLead checks that the validator takes the record v (encoded as b)
// under its own key exactly when its sequence number is within
// MaxVersionLead of the clock.
func checkLead(t *testing.T, v *VersionRecord, b []byte) {
	t.Helper()
	now := time.Now()
	err := VersionValidator{Now: func() time.Time { return now }}.Validate(v.Key(), b)
	if ahead := v.Seq > SeqAt(now.Add(MaxVersionLead)); ahead {
		if !errors.Is(err, ErrVersionAhead) || !errors.Is(err, ErrVersionRecord) {
			t.Fatalf("Validate(own key, seq %d ahead of the clock) = %v, want ErrVersionAhead", v.Seq, err)
		}
	} else if err != nil {
		t.Fatalf("Validate(own key, seq %d) = %v", v.Seq, err)
	}
}

// The clock bounds sequence numbers: a record at most MaxVersionLead
// ahead is taken, one a millisecond further is refused (and Select passes
// over it), and it is taken once the clock has caught up.
func TestVersionValidatorClock(t *testing.T) {
	owner := testUpdater("owner")
	now := time.UnixMilli(1_800_000_000_000)
	clock := now
	vv := VersionValidator{Now: func() time.Time { return clock }}
	limit := SeqAt(now.Add(MaxVersionLead))
	atLimit, bl := signed(t, limit, owner)
	_, bf := signed(t, limit+1, owner)
	_, bp := signed(t, SeqAt(now)-1000, owner)
	key := atLimit.Key()
	if err := vv.Validate(key, bl); err != nil {
		t.Errorf("Validate(seq MaxVersionLead ahead) = %v", err)
	}
	err := vv.Validate(key, bf)
	if !errors.Is(err, ErrVersionAhead) || !strings.Contains(err.Error(), "1h0m0.001s ahead") {
		t.Errorf("Validate(seq 1 ms beyond MaxVersionLead) = %v, want ErrVersionAhead saying by how much", err)
	}
	if got, err := vv.Select(key, [][]byte{bf, bp}); err != nil || got != 1 {
		t.Errorf("Select(ahead, past) = %d, %v, want 1", got, err)
	}
	clock = now.Add(time.Millisecond)
	if err := vv.Validate(key, bf); err != nil {
		t.Errorf("Validate(same record, the clock 1 ms later) = %v", err)
	}
	if got, err := vv.Select(key, [][]byte{bp, bf}); err != nil || got != 1 {
		t.Errorf("Select(past, ahead) once the clock caught up = %d, %v, want 1", got, err)
	}
}

func TestNextSeq(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	at := SeqAt(now)
	lead := uint64(MaxVersionLead / time.Millisecond)
	tests := []struct {
		name   string
		newest uint64
		want   uint64
	}{
		{"no record", 0, at},
		{"older record", at - 5, at},
		{"record at the same millisecond", at, at + 1},
		{"record ahead of the clock", at + 500, at + 501},
		{"record just under the lead", at + lead - 1, at + lead},
	}
	for _, tt := range tests {
		got, err := NextSeq(tt.newest, now)
		if err != nil || got != tt.want {
			t.Errorf("%s: NextSeq(%d) = %d, %v, want %d", tt.name, tt.newest, got, err, tt.want)
		}
	}
	// One more would be refused: say when it would not be.
	_, err := NextSeq(at+lead+1000, now)
	if !errors.Is(err, ErrVersionAhead) || !strings.Contains(err.Error(), "published in 1.001s") {
		t.Errorf("NextSeq(record beyond the lead) = %v, want ErrVersionAhead saying how long to wait", err)
	}
	if _, err := NextSeq(1<<64-1, now); !errors.Is(err, ErrVersionAhead) {
		t.Errorf("NextSeq(largest sequence number) = %v, want ErrVersionAhead", err)
	}
	if got := SeqAt(time.Unix(0, 0)); got != 1 {
		t.Errorf("SeqAt(the epoch) = %d, want 1", got)
	}
}

func TestVersionKey(t *testing.T) {
	v, _ := signed(t, 1, testUpdater("owner"))
	k := v.Key()
	id, _ := BlobID(v.Original)
	if !strings.HasPrefix(k, "/dsnv/") || len(k) != 6+64 || k[6:38] != string(v.Updater[:]) || k[38:] != string(id[:]) {
		t.Errorf("Key() = %x, want /dsnv/ + updater + original digest", k)
	}
	other, _ := signed(t, 1, testUpdater("other"))
	if other.Key() == k {
		t.Error("two updaters share a key")
	}
}

func TestParseVersionRecordRejects(t *testing.T) {
	key := testUpdater("owner")
	v, good := signed(t, 5, key)
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	// A record claiming the owner's updater key but signed by another.
	forged := *v
	forged.Seq = 6
	copy(forged.Signature[:], ed25519.Sign(testUpdater("thief"), forged.signed()))
	forgedBytes, _ := forged.MarshalBinary()
	// The same fields signed without the context string.
	noCtx := *v
	copy(noCtx.Signature[:], ed25519.Sign(key, v.unsigned(nil)))
	noCtxBytes, _ := noCtx.MarshalBinary()
	seqAt := versionHeader + dsn.ShardIDSize
	tests := []struct {
		name string
		b    []byte
		msg  string
	}{
		{"empty", nil, "magic"},
		{"bad magic", edit(func(b []byte) []byte { b[0] = 'X'; return b }), "magic"},
		{"format 2", edit(func(b []byte) []byte { b[4] = 2; return b }), "format version 2"},
		{"signed by another key", forgedBytes, "signature"},
		{"signed without context", noCtxBytes, "signature"},
		{"sequence raised", edit(func(b []byte) []byte { b[seqAt] = 6; return b }), "signature"},
		{"manifest changed", edit(func(b []byte) []byte { b[seqAt+2] ^= 1; return b }), "signature"},
		{"sequence 0", edit(func(b []byte) []byte { b[seqAt] = 0; return b }), "sequence number 0"},
		{"non-minimal sequence", append(append(bytes.Clone(good[:seqAt]), 0x85, 0x00), good[seqAt+1:]...), "sequence number"},
		{"trailing byte", append(bytes.Clone(good), 0), "trailing"},
		{"too long", make([]byte, MaxVersionRecordSize+1), "more than"},
	}
	for _, tt := range tests {
		_, err := ParseVersionRecord(tt.b)
		if !errors.Is(err, ErrVersionRecord) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: ParseVersionRecord = %v, want ErrVersionRecord saying %q", tt.name, err, tt.msg)
		}
	}
	for n := range len(good) {
		if _, err := ParseVersionRecord(good[:n]); !errors.Is(err, ErrVersionRecord) {
			t.Fatalf("ParseVersionRecord(first %d of %d bytes) = %v, want ErrVersionRecord", n, len(good), err)
		}
	}
}

func TestVersionValidator(t *testing.T) {
	var vv VersionValidator
	owner, thief := testUpdater("owner"), testUpdater("thief")
	v1, b1 := signed(t, 1, owner)
	_, b2 := signed(t, 2, owner)
	_, b9 := signed(t, 9, owner)
	tv, bt := signed(t, 10, thief)
	key := v1.Key()
	// A record is valid only under its own key: the thief's validly
	// signed record cannot take the owner's slot.
	if err := vv.Validate(key, bt); !errors.Is(err, ErrVersionRecord) {
		t.Errorf("Validate(owner's key, thief's record) = %v, want ErrVersionRecord", err)
	}
	if err := vv.Validate(tv.Key(), bt); err != nil {
		t.Errorf("Validate(thief's key, thief's record) = %v", err)
	}
	other, _ := SignVersion(CID([]byte("another file")), CID([]byte("x")), 3, owner)
	ob, _ := other.MarshalBinary()
	if err := vv.Validate(key, ob); !errors.Is(err, ErrVersionRecord) {
		t.Errorf("Validate(record of another file) = %v, want ErrVersionRecord", err)
	}
	tests := []struct {
		values [][]byte
		want   int
	}{
		{[][]byte{b1, b2}, 1},
		{[][]byte{b9, b2, b1}, 0},
		{[][]byte{bt, []byte("junk"), b2, b1}, 2},
		{[][]byte{b2, b2}, 0},
	}
	for i, tt := range tests {
		got, err := vv.Select(key, tt.values)
		if err != nil || got != tt.want {
			t.Errorf("case %d: Select = %d, %v, want %d", i, got, err, tt.want)
		}
	}
	if _, err := vv.Select(key, [][]byte{bt, nil}); !errors.Is(err, ErrVersionRecord) {
		t.Errorf("Select(no valid record) = %v, want ErrVersionRecord", err)
	}
	// Equal sequence numbers: both orders pick the same record.
	a, _ := SignVersion(v1.Original, CID([]byte("a")), 4, owner)
	b, _ := SignVersion(v1.Original, CID([]byte("b")), 4, owner)
	if a.Newer(b) == b.Newer(a) {
		t.Error("Newer does not order two records of one sequence number")
	}
}

func TestSameContent(t *testing.T) {
	moved := func(m *Manifest) { m.Segments[1].Shards[3].Provider = "elsewhere" }
	if m, n := testManifest(true), testManifest(true); func() error { moved(n); return m.SameContent(n) }() != nil {
		t.Fatalf("SameContent(providers moved) = %v, want nil", m.SameContent(n))
	}
	tests := []struct {
		name, field string
		edit        func(m *Manifest)
	}{
		{"size", "Size", func(m *Manifest) { m.Size-- }},
		{"root", "Root", func(m *Manifest) { m.Root = CID([]byte("other root")) }},
		{"k", "K+M", func(m *Manifest) { m.K, m.M = 3, 3 }},
		{"file id", "FileID", func(m *Manifest) { m.FileID[0] ^= 1 }},
		{"cipher", "Cipher", func(m *Manifest) { m.Cipher = seal.XChaCha20Poly1305 }},
		{"updater", "Updater", func(m *Manifest) { m.Updater[0] ^= 1 }},
		{"shard id", "Segments[1].Shards[2].ID", func(m *Manifest) { m.Segments[1].Shards[2].ID[0] ^= 1 }},
		{"segments", "Segments", func(m *Manifest) { m.Segments = m.Segments[:1] }},
	}
	for _, tt := range tests {
		m, n := testManifest(true), testManifest(true)
		tt.edit(n)
		err := m.SameContent(n)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: SameContent = %v, want ErrInvalid naming %s", tt.name, err, tt.field)
		}
	}
}

func TestRepairCap(t *testing.T) {
	_, private := goldenBlobs(t)
	key := testKey()
	ref := Reference{Manifest: CID(private), Key: &key}
	rc, ok := ref.RepairCap()
	if !ok {
		t.Fatal("RepairCap of a private reference: not ok")
	}
	if rc.Key == seal.ManifestKey(key) {
		t.Fatal("the repair capability carries the file key")
	}
	s := rc.String()
	if !strings.HasPrefix(s, "dsn-repair:"+ref.Manifest.String()+"#") || strings.Contains(s, ref.String()[len(Scheme)+len(ref.Manifest.String()):]) {
		t.Errorf("RepairCap.String() = %q", s)
	}
	got, err := ParseRepairCap(s)
	if err != nil || got != rc {
		t.Fatalf("ParseRepairCap(%q) = %v, %v, want %v", s, got, err, rc)
	}
	// The capability opens the manifest and gives its updater key.
	m, err := Open(private, &got.Key)
	if err != nil {
		t.Fatalf("Open(private, repair cap) = %v", err)
	}
	if _, ok := (Reference{Manifest: ref.Manifest}).RepairCap(); ok {
		t.Error("RepairCap of a public reference: ok")
	}
	if m.Cipher == seal.None {
		t.Fatal("fixture is not private")
	}
	for _, bad := range []string{
		"", "dsn-repair:", "dsn-repair:#", ref.String(),
		"dsn-repair:" + ref.Manifest.String(),
		"dsn-repair:" + ref.Manifest.String() + "#",
		"dsn-repair:" + ref.Manifest.String() + "#" + strings.Repeat("A", 42) + "B",
		"dsn-repair:bafy#" + strings.Repeat("A", 43),
		strings.Repeat("x", 600),
	} {
		if _, err := ParseRepairCap(bad); !errors.Is(err, ErrRepairCap) {
			t.Errorf("ParseRepairCap(%q) = %v, want ErrRepairCap", bad, err)
		}
	}
}

// FuzzParseVersionRecord checks that no input panics the decoder, that
// everything it accepts verifies and re-encodes to the same bytes, and that
// the validator agrees with it.
func FuzzParseVersionRecord(f *testing.F) {
	_, b := signed(f, 7, testUpdater("owner"))
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add([]byte("DSNV\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseVersionRecord(b)
		if err != nil {
			if !errors.Is(err, ErrVersionRecord) {
				t.Fatalf("ParseVersionRecord error %v does not wrap ErrVersionRecord", err)
			}
			return
		}
		again, err := v.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, re-encoded as %x, %v", b, again, err)
		}
		if !ed25519.Verify(v.Updater[:], v.signed(), v.Signature[:]) {
			t.Fatal("accepted a record whose signature does not verify")
		}
		checkLead(t, v, b)
	})
}

// FuzzParseRepairCap checks that parsing never panics and that an accepted
// capability prints in a form that parses to the same value.
func FuzzParseRepairCap(f *testing.F) {
	key := testKey()
	rc, _ := Reference{Manifest: CID([]byte("seed")), Key: &key}.RepairCap()
	f.Add(rc.String())
	f.Add("dsn-repair:")
	f.Add("dsn-repair:#")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseRepairCap(s)
		if err != nil {
			if !errors.Is(err, ErrRepairCap) {
				t.Fatalf("ParseRepairCap(%q) error %v does not wrap ErrRepairCap", s, err)
			}
			return
		}
		out := c.String()
		c2, err := ParseRepairCap(out)
		if err != nil || c2 != c || c2.String() != out {
			t.Fatalf("ParseRepairCap(%q) = %v, %v, printed from %q", out, c2, err, s)
		}
	})
}

func ExampleReference_RepairCap() {
	var key seal.Key
	for i := range key {
		key[i] = byte(i)
	}
	ref := Reference{Manifest: CID([]byte("an envelope")), Key: &key}
	rc, _ := ref.RepairCap()
	fmt.Println(rc)
	parsed, err := ParseRepairCap(rc.String())
	fmt.Println(parsed == rc, err)
	// The capability signs versions with the key a manifest names as
	// Updater, but carries nothing that opens a chunk.
	fmt.Println(rc.Key == seal.ManifestKey(key))
	// Output:
	// dsn-repair:bafkr4ifkqbyxawxhujekaguzhhj2qhtjne55iqe2bggm5pha5osnlr5u64#-mrryf33fJvxM5QfHrmMknffqGssvhu5IB58aH41M78
	// true <nil>
	// false
}
