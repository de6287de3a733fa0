package ledgerproto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dsn-project/dsn/internal/frame"
	"github.com/dsn-project/dsn/ledger"
)

var update = flag.Bool("update", false, "rewrite testdata/wire.golden")

// examples are one message of each kind: the frames in
// testdata/wire.golden.
func examples() []struct {
	name string
	msg  message
} {
	entry := []byte{ledger.Version, byte(ledger.KindReceipt), 0xaa, 0xbb}
	return []struct {
		name string
		msg  message
	}{
		{"propose deal (entry shortened)", entryRequest{typ: typeProposeDeal, entry: entry}},
		{"submit (entry shortened)", entryRequest{typ: typeSubmit, entry: entry}},
		{"submit end (entry shortened)", entryRequest{typ: typeSubmit, entry: []byte{ledger.Version, byte(ledger.KindEnd), 0xaa, 0xbb}}},
		{"get checkpoint", checkpointRequest{}},
		{"prove consistency 5..300", consistencyRequest{oldSize: 5, newSize: 300}},
		{"prove inclusion of 200", inclusionRequest{index: 200}},
		{"reply OK to submit", reply{code: CodeOK}},
		{"reply OK with a payload", reply{code: CodeOK, payload: []byte{1, 2, 3}}},
		{"reply Sequence", reply{code: CodeSequence, text: "replay"}},
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

// TestBounds pins the numbers doc.go gives, and checks that the largest
// messages fit their frames.
func TestBounds(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"MaxRequestSize", MaxRequestSize, 4100},
		{"MaxReplySize", MaxReplySize, 9506},
		{"MaxTreeProofSize", MaxTreeProofSize, 4098},
		{"ledger.MaxInclusionProofSize", ledger.MaxInclusionProofSize, 9233},
		{"ledger.MaxEntrySize", ledger.MaxEntrySize, 4096},
		{"ledger.MaxCheckpointSize", ledger.MaxCheckpointSize, 1024},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, doc.go says %d", c.name, c.got, c.want)
		}
	}
	big := entryRequest{typ: typeSubmit, entry: make([]byte, ledger.MaxEntrySize)}
	if n := len(big.append(nil)); n > MaxRequestSize {
		t.Errorf("largest request is %d bytes, over MaxRequestSize %d", n, MaxRequestSize)
	}
	for _, req := range []request{entryRequest{typ: typeProposeDeal}, entryRequest{typ: typeSubmit}, checkpointRequest{}, consistencyRequest{}, inclusionRequest{}} {
		rep := reply{code: CodeOK, text: strings.Repeat("x", MaxTextSize), payload: make([]byte, req.payloadBound())}
		b := rep.append(nil)
		if len(b) > replyLimit(req) {
			t.Errorf("largest reply to %T is %d bytes, over its limit %d", req, len(b), replyLimit(req))
		}
		if _, err := decodeReply(b, req.payloadBound()); err != nil {
			t.Errorf("decodeReply(largest reply to %T) = %v", req, err)
		}
	}
}

func TestReplyText(t *testing.T) {
	long := strings.Repeat("é", MaxTextSize)
	for _, c := range []struct {
		code Code
		err  error
		want string
	}{
		{CodeRefused, errors.New("no"), "no"},
		{CodeInternal, errors.New("/home/x"), ""},
		{CodeRefused, errors.New("bad \xff byte"), "bad ? byte"},
		{CodeRefused, errors.New(long), long[:MaxTextSize]},
	} {
		got := replyText(c.code, c.err)
		if got != c.want || len(got) > MaxTextSize || !utf8.ValidString(got) {
			t.Errorf("replyText(%v, %.20q) = %.20q, want %.20q", c.code, c.err, got, c.want)
		}
	}
}

func seedFrames(f *testing.F) {
	for _, ex := range examples() {
		f.Add(frame.Append(nil, ex.msg.append(nil)))
	}
	for _, s := range []string{"", "00", "8100", "8000", "ffffffffffffffffff01", "0501", "808001", "851f"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
}

func FuzzReadFrame(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, max := range []int{MaxRequestSize, MaxReplySize, 300} {
			r := bytes.NewReader(data)
			body, err := readFrame(r, max)
			if err != nil {
				continue
			}
			if len(body) == 0 || len(body) > max {
				t.Fatalf("readFrame(%x, %d) = %d-byte body, outside [1, %d]", data, max, len(body), max)
			}
			used := data[:len(data)-r.Len()]
			if again := frame.Append(nil, body); !bytes.Equal(again, used) {
				t.Errorf("readFrame(%x) read %x, which re-encodes as %x", data, used, again)
			}
		}
	})
}

func seedBodies(f *testing.F) {
	for _, ex := range examples() {
		body := ex.msg.append(nil)
		f.Add(body)
		f.Add(body[:len(body)-1])
		f.Add(append(body, 0))
	}
	for typ := byte(0); typ <= typeReply+1; typ++ {
		f.Add([]byte{typ})
	}
}

// canonical checks that a decoded message encodes back to the same bytes:
// one message has one wire form.
func canonical(t *testing.T, data []byte, m message) {
	t.Helper()
	if again := m.append(nil); !bytes.Equal(again, data) {
		t.Errorf("decode(%x) = %+v, which re-encodes as %x", data, m, again)
	}
}

func FuzzRequest(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeRequest(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("decodeRequest(%x) = %v, want ErrMalformed", data, err)
			}
			return
		}
		switch m := req.(type) {
		case entryRequest:
			if len(m.entry) < 1 || len(m.entry) > ledger.MaxEntrySize {
				t.Errorf("decodeRequest(%x): entry of %d bytes", data, len(m.entry))
			}
		case consistencyRequest:
			if m.oldSize < 0 || m.oldSize > m.newSize || m.newSize > MaxIndex {
				t.Errorf("decodeRequest(%x): sizes %d..%d out of bounds", data, m.oldSize, m.newSize)
			}
		case inclusionRequest:
			if m.index < 0 || m.index >= MaxIndex {
				t.Errorf("decodeRequest(%x): index %d out of bounds", data, m.index)
			}
		}
		if len(data) > MaxRequestSize {
			t.Errorf("decodeRequest accepted %d bytes, over MaxRequestSize", len(data))
		}
		canonical(t, data, req)
	})
}

func FuzzReply(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, bound := range []int{0, 3, MaxPayloadSize} {
			rep, err := decodeReply(data, bound)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("decodeReply(%x) = %v, want ErrMalformed", data, err)
				}
				continue
			}
			if len(rep.payload) > bound || (rep.code != CodeOK && len(rep.payload) > 0) {
				t.Errorf("decodeReply(%x, %d) = %v reply with %d payload bytes", data, bound, rep.code, len(rep.payload))
			}
			if len(rep.text) > MaxTextSize || !utf8.ValidString(rep.text) {
				t.Errorf("decodeReply(%x) text %q", data, rep.text)
			}
			if rep.code != CodeOK {
				if err := remoteError(rep.code, rep.text); err == nil {
					t.Errorf("remoteError(%v) = nil", rep.code)
				}
			}
			canonical(t, data, rep)
		}
	})
}
