package shardproto

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/frame"
)

var update = flag.Bool("update", false, "rewrite testdata/wire.golden")

// examples are one message of each kind with every field set, the frames
// in docs/protocols.md and testdata/wire.golden.
func examples() []struct {
	name string
	msg  message
} {
	var id dsn.ShardID
	for i := range id {
		id[i] = byte(i)
	}
	return []struct {
		name string
		msg  message
	}{
		{"put request, 16 MiB", putRequest{id: id, size: 16 << 20}},
		{"put result OK", putResult{code: CodeOK}},
		{"put result Corrupt", putResult{code: CodeCorrupt, text: "bad hash"}},
		{"get request, whole shard", getRequest{id: id, off: 0, length: -1}},
		{"get request, 4096 bytes at 1 MiB", getRequest{id: id, off: 1 << 20, length: 4096}},
		{"get response OK", getResponse{code: CodeOK, size: 16 << 20, length: 4096}},
		{"get response NotFound", getResponse{code: CodeNotFound, text: "no such shard"}},
	}
}

func TestWireGolden(t *testing.T) {
	var out strings.Builder
	for _, ex := range examples() {
		fmt.Fprintf(&out, "# %s\n%x\n", ex.name, frame.Append(nil, ex.msg.append(nil)))
	}
	path := filepath.Join("testdata", "wire.golden")
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("wire encoding changed: got\n%s\nwant\n%s", out.String(), want)
	}
}

func seedFrames(f *testing.F) {
	for _, ex := range examples() {
		f.Add(frame.Append(nil, ex.msg.append(nil)))
	}
	for _, s := range []string{"", "00", "8108", "8000", "ffffffffffffffffff01", "0501", "808001"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
}

func seedBodies(f *testing.F, typ byte) {
	for _, ex := range examples() {
		body := ex.msg.append(nil)
		if body[0] == typ {
			f.Add(body)
			f.Add(body[:len(body)-1])
			f.Add(append(body, 0))
		}
	}
	f.Add([]byte{typ})
}

func FuzzReadFrame(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf [MaxFrameSize]byte
		r := bytes.NewReader(data)
		body, err := readFrame(r, buf[:])
		if err != nil {
			return
		}
		if len(body) == 0 || len(body) > MaxFrameSize {
			t.Fatalf("readFrame(%x) = %d-byte body, outside [1, %d]", data, len(body), MaxFrameSize)
		}
		used := data[:len(data)-r.Len()]
		if again := frame.Append(nil, body); !bytes.Equal(again, used) {
			t.Errorf("readFrame(%x) read %x, which re-encodes as %x", data, used, again)
		}
	})
}

// canonical checks that a decoded message encodes back to the same bytes:
// the encoding is canonical, so one message has one wire form.
func canonical(t *testing.T, data []byte, m message) {
	t.Helper()
	if again := m.append(nil); !bytes.Equal(again, data) {
		t.Errorf("decode(%x) = %+v, which re-encodes as %x", data, m, again)
	}
}

func checkText(t *testing.T, s string) {
	t.Helper()
	if len(s) > MaxTextSize || !utf8.ValidString(s) {
		t.Errorf("decoded text %q breaks the limits", s)
	}
}

func FuzzPutRequest(f *testing.F) {
	seedBodies(f, typePutRequest)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodePutRequest(data)
		if err != nil {
			return
		}
		if m.size < 0 {
			t.Errorf("decodePutRequest(%x) size %d", data, m.size)
		}
		canonical(t, data, m)
	})
}

func FuzzPutResult(f *testing.F) {
	seedBodies(f, typePutResult)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodePutResult(data)
		if err != nil {
			return
		}
		checkText(t, m.text)
		canonical(t, data, m)
	})
}

func FuzzGetRequest(f *testing.F) {
	seedBodies(f, typeGetRequest)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeGetRequest(data)
		if err != nil {
			return
		}
		if m.off < 0 || m.length < -1 {
			t.Errorf("decodeGetRequest(%x) range [%d,+%d)", data, m.off, m.length)
		}
		canonical(t, data, m)
	})
}

func FuzzGetResponse(f *testing.F) {
	seedBodies(f, typeGetResponse)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeGetResponse(data)
		if err != nil {
			return
		}
		if m.size < 0 || m.length < 0 {
			t.Errorf("decodeGetResponse(%x) size %d length %d", data, m.size, m.length)
		}
		checkText(t, m.text)
		canonical(t, data, m)
	})
}
