package auditproto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/frame"
	"github.com/dsn-project/dsn/proofs"
	"github.com/dsn-project/dsn/proofs/compact"
)

var update = flag.Bool("update", false, "rewrite testdata/wire.golden")

// examples are one message of each kind with every field set: the frames
// in testdata/wire.golden and in doc.go.
func examples() []struct {
	name string
	msg  message
} {
	var id, id2 dsn.ShardID
	var seed proofs.Seed
	for i := range id {
		id[i], id2[i], seed[i] = byte(i), byte(0xff-i), byte(0x80+i)
	}
	return []struct {
		name string
		msg  message
	}{
		{"put tags, 64 MiB shard", putTagsRequest{id: id, length: compact.TagsSize(64 << 20)}},
		{"merkle challenge, c = 459", merkleRequest{id: id, seed: seed, c: 459}},
		{"compact challenge, c = 459, two shards", compactRequest{seed: seed, c: 459, targets: []compact.Target{{ID: id, Size: 64 << 20}, {ID: id2, Size: 1000}}}},
		{"reply OK, compact proof follows", reply{code: CodeOK, length: compact.ProofSize}},
		{"reply OK to put tags", reply{code: CodeOK}},
		{"reply NoTags", reply{code: CodeNoTags, text: "no tags"}},
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

func TestCodeString(t *testing.T) {
	for c, want := range map[Code]string{CodeOK: "OK", CodeNoTags: "NoTags", CodeRefused: "Refused", 11: "Code(11)"} {
		if got := c.String(); got != want {
			t.Errorf("Code(%d).String() = %q, want %q", uint64(c), got, want)
		}
	}
	for c := CodeNotFound; c <= CodeRefused; c++ {
		if err := codeErr(c); err == nil || errors.Is(err, ErrUnknownCode) {
			t.Errorf("codeErr(%v) = %v, want a sentinel", c, err)
		}
	}
}

// TestLargestRequest: a compact challenge at MaxTargets fits a request
// frame with room to spare.
func TestLargestRequest(t *testing.T) {
	req := compactRequest{c: 1, targets: make([]compact.Target, MaxTargets)}
	for i := range req.targets {
		req.targets[i] = compact.Target{ID: dsn.ShardID{byte(i), byte(i >> 8)}, Size: dsn.MaxShardSize}
	}
	b := req.append(nil)
	if len(b) > MaxRequestSize {
		t.Fatalf("largest compact challenge is %d bytes, over MaxRequestSize %d", len(b), MaxRequestSize)
	}
	got, err := decodeCompact(b)
	if err != nil || len(got.targets) != MaxTargets {
		t.Errorf("decodeCompact(largest) = %d targets, %v", len(got.targets), err)
	}
}

func seedFrames(f *testing.F) {
	for _, ex := range examples() {
		f.Add(frame.Append(nil, ex.msg.append(nil)))
	}
	for _, s := range []string{"", "00", "8100", "8000", "ffffffffffffffffff01", "0501", "808001", "818004"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
}

func FuzzReadFrame(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, max := range []int{MaxReplySize, MaxRequestSize} {
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

// canonical checks that a decoded message encodes back to the same bytes:
// one message has one wire form.
func canonical(t *testing.T, data []byte, m message) {
	t.Helper()
	if again := m.append(nil); !bytes.Equal(again, data) {
		t.Errorf("decode(%x) = %+v, which re-encodes as %x", data, m, again)
	}
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
		case putTagsRequest:
			if m.length < 1 || m.length > MaxTagsSize {
				t.Errorf("decodeRequest(%x): tags length %d out of bounds", data, m.length)
			}
		case merkleRequest:
			if m.c < 1 || m.c > MaxMerkleSamples {
				t.Errorf("decodeRequest(%x): c = %d out of bounds", data, m.c)
			}
		case compactRequest:
			if m.c < 1 || len(m.targets) < 1 || len(m.targets) > MaxTargets || m.c*len(m.targets) > MaxPicks {
				t.Errorf("decodeRequest(%x): c = %d over %d targets out of bounds", data, m.c, len(m.targets))
			}
			// What decodes is a challenge the prover can build.
			if _, err := compact.NewChallenge(m.seed, m.c, m.targets); err != nil {
				t.Errorf("decodeRequest(%x) = a challenge NewChallenge refuses: %v", data, err)
			}
		}
		canonical(t, data, req)
	})
}

func FuzzReply(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeReply(data)
		if err != nil {
			return
		}
		if m.length < 0 || (m.code != CodeOK && m.length != 0) {
			t.Errorf("decodeReply(%x): %v with length %d", data, m.code, m.length)
		}
		if len(m.text) > MaxTextSize || !utf8.ValidString(m.text) {
			t.Errorf("decodeReply(%x): text %q breaks the limits", data, m.text)
		}
		canonical(t, data, m)
	})
}

// FuzzAnswer feeds arbitrary bytes to the auditor's reading of an answer:
// it never returns a proof over the bound, never reads more than a reply
// frame, the bound and one byte, and calls nothing a proof unless it was
// announced in full.
func FuzzAnswer(f *testing.F) {
	for _, ex := range examples() {
		frame := frame.Append(nil, ex.msg.append(nil))
		f.Add(frame, uint16(100), false)
		f.Add(append(frame, bytes.Repeat([]byte{7}, 200)...), uint16(100), false)
	}
	ok := frame.Append(nil, reply{code: CodeOK, length: 10}.append(nil))
	f.Add(append(ok, make([]byte, 10)...), uint16(10), true)
	f.Add(append(ok, make([]byte, 11)...), uint16(10), false)
	f.Add(append(ok, make([]byte, 9)...), uint16(64), false)
	f.Fuzz(func(t *testing.T, data []byte, bound uint16, exact bool) {
		r := bytes.NewReader(data)
		lr := &io.LimitedReader{R: r, N: int64(len(data))}
		proof, o, err := readAnswer(lr, int(bound), exact)
		switch o {
		case Pass:
			if err != nil || len(proof) == 0 || len(proof) > int(bound) || (exact && len(proof) != int(bound)) {
				t.Fatalf("readAnswer(%x, %d, %v) = %d-byte proof, %v", data, bound, exact, len(proof), err)
			}
			left := r.Len()
			if err := checkEnd(lr, len(proof)); (err == nil) != (left == 0) {
				t.Errorf("checkEnd with %d bytes left = %v", left, err)
			}
		case Fail, Missed:
			if err == nil {
				t.Fatalf("readAnswer(%x) = %v without a reason", data, o)
			}
		default:
			t.Fatalf("readAnswer(%x) = outcome %v", data, o)
		}
		if read := len(data) - r.Len(); read > 2+MaxReplySize+int(bound)+1 {
			t.Errorf("readAnswer(%x, %d) read %d bytes", data, bound, read)
		}
	})
}
