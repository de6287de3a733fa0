package shardstore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestIndexEntryDecode(t *testing.T) {
	tests := []struct {
		in      string // hex
		want    indexEntry
		wantErr bool
	}{
		{"010000", indexEntry{Size: 0, Received: time.Unix(0, 0).UTC()}, false},
		{"01e80780e2cfaa06", indexEntry{Size: 1000, Received: time.Unix(1_700_000_000, 0).UTC()}, false},
		{"0180808080081e", indexEntry{Size: dsn.MaxShardSize, Received: time.Unix(30, 0).UTC()}, false},
		{"", indexEntry{}, true},
		{"02e80700", indexEntry{}, true},            // unknown version
		{"01", indexEntry{}, true},                  // no size
		{"01e8", indexEntry{}, true},                // truncated size
		{"01e807", indexEntry{}, true},              // no time
		{"01e8070000", indexEntry{}, true},          // trailing byte
		{"01800000", indexEntry{}, true},            // non-canonical zero size
		{"018180808008" + "00", indexEntry{}, true}, // size above MaxShardSize
		{"0100ffffffffffffffffff01", indexEntry{}, true},
	}
	for _, tt := range tests {
		in, err := hex.DecodeString(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeIndexEntry(in)
		if (err != nil) != tt.wantErr || (err == nil && (got.Size != tt.want.Size || !got.Received.Equal(tt.want.Received))) {
			t.Errorf("decodeIndexEntry(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrCorruptIndex) {
			t.Errorf("decodeIndexEntry(%q) error %v does not wrap ErrCorruptIndex", tt.in, err)
		}
		if err == nil && !bytes.Equal(got.encode(), in) {
			t.Errorf("encode(decodeIndexEntry(%q)) = %x, want the input back", tt.in, got.encode())
		}
	}
}

func TestUsageDecode(t *testing.T) {
	tests := []struct {
		in      string
		want    usageRecord
		wantErr bool
	}{
		{"010000", usageRecord{}, false},
		{"0103e807", usageRecord{Shards: 3, Used: 1000}, false},
		{"", usageRecord{}, true},
		{"00", usageRecord{}, true},
		{"0103", usageRecord{}, true},
		{"0103e80700", usageRecord{}, true},
		{"018000e807", usageRecord{}, true},
		{"0100ffffffffffffffff7f", usageRecord{}, true},
	}
	for _, tt := range tests {
		in, _ := hex.DecodeString(tt.in)
		got, err := decodeUsage(in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("decodeUsage(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestFormatGolden pins the on-disk encodings: a change here breaks every
// existing store and needs a new version byte instead.
func TestFormatGolden(t *testing.T) {
	id := dsn.SumShard([]byte("golden"))
	var b strings.Builder
	b.WriteString("# shardstore on-disk format v1, one record per line: name, key, value (hex; - for none)\n")
	b.WriteString("shard-key " + hex.EncodeToString(shardKey(id)) + " -\n")
	b.WriteString("index-entry(size=33554432,received=2026-01-02T03:04:05Z) - " +
		hex.EncodeToString(indexEntry{Size: 32 << 20, Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}.encode()) + "\n")
	b.WriteString("usage(shards=12,used=402653184) " + hex.EncodeToString(usageKey) + " " +
		hex.EncodeToString(usageRecord{Shards: 12, Used: 12 * 32 << 20}.encode()) + "\n")
	path := filepath.Join("testdata", "format-v1.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("on-disk encodings changed:\n got: %s\nwant: %s", b.String(), want)
	}
}

// FuzzDecodeIndexEntry feeds arbitrary bytes (as read from a damaged disk)
// to the entry decoder: it must not panic, must reject with ErrCorruptIndex,
// and whatever it accepts must be in range and encode back to the same
// bytes (so there is one encoding per entry).
func FuzzDecodeIndexEntry(f *testing.F) {
	f.Add(indexEntry{Size: 0}.encode())
	f.Add(indexEntry{Size: 1 << 20, Received: time.Unix(1_800_000_000, 0)}.encode())
	f.Add(indexEntry{Size: dsn.MaxShardSize, Received: time.Unix(maxUnixSeconds, 0)}.encode())
	f.Add([]byte{1, 0x80, 0})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeIndexEntry(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptIndex) {
				t.Fatalf("decodeIndexEntry(%x) error %v does not wrap ErrCorruptIndex", b, err)
			}
			return
		}
		if e.Size < 0 || e.Size > dsn.MaxShardSize {
			t.Fatalf("decodeIndexEntry(%x) size %d out of range", b, e.Size)
		}
		if got := e.encode(); !bytes.Equal(got, b) {
			t.Fatalf("encode(decodeIndexEntry(%x)) = %x", b, got)
		}
	})
}

// FuzzDecodeUsage does the same for the usage record.
func FuzzDecodeUsage(f *testing.F) {
	f.Add(usageRecord{}.encode())
	f.Add(usageRecord{Shards: 5, Used: 1 << 40}.encode())
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUsage(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptIndex) {
				t.Fatalf("decodeUsage(%x) error %v does not wrap ErrCorruptIndex", b, err)
			}
			return
		}
		if u.Shards < 0 || u.Used < 0 {
			t.Fatalf("decodeUsage(%x) = %+v, negative", b, u)
		}
		if got := u.encode(); !bytes.Equal(got, b) {
			t.Fatalf("encode(decodeUsage(%x)) = %x", b, got)
		}
	})
}
