package ledger

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func signText(t testing.TB, key ed25519.PrivateKey, text string) []byte {
	t.Helper()
	s, err := noteSigner(key)
	must(t, err)
	msg, err := note.Sign(&note.Note{Text: text}, s)
	must(t, err)
	return msg
}

func TestCheckpointFormat(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, honest(t)[:3]...)
	cp, err := l.Checkpoint()
	must(t, err)
	text, sig, _ := strings.Cut(string(cp.Note), "\n\n")
	lines := strings.Split(text, "\n")
	if len(lines) != 3 || lines[0] != "dsn ledger v1 "+provider.String() || lines[1] != "3" || lines[2] != cp.Hash.String() {
		t.Errorf("checkpoint text = %q, want origin, size 3, hash %s", text, cp.Hash)
	}
	if !strings.HasPrefix(sig, "— dsn-ledger-"+provider.String()+" ") {
		t.Errorf("checkpoint signature line = %q", sig)
	}
	// The note package reads it with a verifier built from the key alone.
	vkey, err := note.NewEd25519VerifierKey("dsn-ledger-"+provider.String(), provider[:])
	must(t, err)
	v, err := note.NewVerifier(vkey)
	must(t, err)
	if _, err := note.Open(cp.Note, note.VerifierList(v)); err != nil {
		t.Errorf("note.Open(checkpoint) = %v", err)
	}
	again, err := l.Checkpoint()
	if err != nil || !bytes.Equal(again.Note, cp.Note) {
		t.Errorf("Checkpoint() with no new entries = %v, want the same checkpoint", err)
	}
}

func TestParseCheckpointRejects(t *testing.T) {
	h := tlog.RecordHash([]byte("x"))
	good := signCheckpoint(t, providerKey, 5, h)
	if _, err := VerifyCheckpoint(good, provider); err != nil {
		t.Fatalf("VerifyCheckpoint(good) = %v", err)
	}
	hash := h.String()
	origin := "dsn ledger v1 " + provider.String() + "\n"
	doubleSigned, err := note.Sign(&note.Note{Text: origin + "5\n" + hash + "\n"}, mustSigner(t, providerKey), mustSigner(t, otherKey))
	must(t, err)
	tests := []struct {
		name string
		msg  []byte
		want error
	}{
		{"other node's key", signText(t, otherKey, origin+"5\n"+hash+"\n"), ErrCheckpoint},
		{"altered size", bytes.Replace(good, []byte("\n5\n"), []byte("\n6\n"), 1), ErrCheckpoint},
		{"leading zero", signText(t, providerKey, origin+"05\n"+hash+"\n"), ErrCheckpoint},
		{"negative", signText(t, providerKey, origin+"-5\n"+hash+"\n"), ErrCheckpoint},
		{"extra line", signText(t, providerKey, origin+"5\n"+hash+"\nmore\n"), ErrCheckpoint},
		{"short hash", signText(t, providerKey, origin+"5\nAAAA\n"), ErrCheckpoint},
		{"go.sum origin", signText(t, providerKey, string(tlog.FormatTree(tlog.Tree{N: 5, Hash: h}))), ErrCheckpoint},
		{"upper-case key", signText(t, providerKey, "dsn ledger v1 "+strings.ToUpper(provider.String())+"\n5\n"+hash+"\n"), ErrCheckpoint},
		{"two signatures", doubleSigned, ErrCheckpoint},
		{"no signature", []byte(origin + "5\n" + hash + "\n\n"), ErrCheckpoint},
		{"oversized", append(bytes.Clone(good), make([]byte, MaxCheckpointSize)...), ErrTooLarge},
		{"empty", nil, ErrCheckpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCheckpoint(tt.msg)
			if !errors.Is(err, tt.want) {
				t.Errorf("ParseCheckpoint(%.60q) = %+v, %v; want %v", tt.msg, c, err, tt.want)
			}
		})
	}
	if _, err := VerifyCheckpoint(good, other); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("VerifyCheckpoint(provider's checkpoint, other) = %v, want ErrCheckpoint", err)
	}
}

func mustSigner(t *testing.T, k ed25519.PrivateKey) note.Signer {
	s, err := noteSigner(k)
	must(t, err)
	return s
}

func TestInclusionProof(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	es := honest(t)
	appendAll(t, l, es...)
	for i := range int64(len(es)) {
		p, err := l.ProveInclusion(i)
		must(t, err)
		b, err := p.MarshalBinary()
		must(t, err)
		var q InclusionProof
		must(t, q.UnmarshalBinary(b))
		e, cp, err := CheckInclusion(&q, provider)
		if err != nil || e.Kind() != es[i].Kind() || cp.Size != int64(len(es)) {
			t.Errorf("CheckInclusion(proof of %d) = %v, %d, %v; want a %s in a checkpoint of %d", i, e, cp.Size, err, es[i].Kind(), len(es))
		}
	}
	cps, _ := l.Checkpoints()
	if len(cps) != 1 {
		t.Errorf("proving %d entries published %d checkpoints, want 1", len(es), len(cps))
	}

	p, err := l.ProveInclusion(3)
	must(t, err)
	other4, _ := l.Entry(4)
	tests := []struct {
		name   string
		change func(p *InclusionProof)
		node   PublicKey
		want   error
	}{
		{"wrong index", func(p *InclusionProof) { p.Index = 4 }, provider, ErrProof},
		{"index past the checkpoint", func(p *InclusionProof) { p.Index = 100 }, provider, ErrProof},
		{"another entry", func(p *InclusionProof) { p.Entry = other4 }, provider, ErrProof},
		{"path altered", func(p *InclusionProof) { p.Proof[0][0] ^= 1 }, provider, ErrProof},
		{"path shortened", func(p *InclusionProof) { p.Proof = p.Proof[1:] }, provider, ErrProof},
		{"entry altered", func(p *InclusionProof) { p.Entry[len(p.Entry)-1] ^= 1 }, provider, ErrBadSignature},
		{"other node", func(p *InclusionProof) {}, other, ErrCheckpoint},
		{"oversized path", func(p *InclusionProof) { p.Proof = make(tlog.RecordProof, MaxProofHashes+1) }, provider, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := *p
			q.Entry = bytes.Clone(p.Entry)
			q.Proof = append(tlog.RecordProof(nil), p.Proof...)
			tt.change(&q)
			if _, _, err := CheckInclusion(&q, tt.node); !errors.Is(err, tt.want) {
				t.Errorf("CheckInclusion = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestProofDecodersReject(t *testing.T) {
	l := openLog(t, t.TempDir(), providerKey)
	appendAll(t, l, honest(t)...)
	p, err := l.ProveInclusion(2)
	must(t, err)
	good, err := p.MarshalBinary()
	must(t, err)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrVersion},
		{"version", append([]byte{9}, good[1:]...), ErrVersion},
		{"truncated", good[:len(good)-1], ErrMalformed},
		{"trailing", append(bytes.Clone(good), 0), ErrMalformed},
		{"oversized", make([]byte, MaxInclusionProofSize+1), ErrTooLarge},
		{"huge entry length", []byte{1, 0, 0xff, 0xff, 0x03}, ErrMalformed},
		{"huge hash count", []byte{1, 0, 0, 0, 0xff, 0x01}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q InclusionProof
			if err := q.UnmarshalBinary(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("UnmarshalBinary(%.32x) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
	tp, err := l.ProveConsistency(2, 9)
	must(t, err)
	enc, err := EncodeTreeProof(tp)
	must(t, err)
	if got, err := DecodeTreeProof(enc); err != nil || len(got) != len(tp) {
		t.Errorf("DecodeTreeProof(EncodeTreeProof(p)) = %v, %v", got, err)
	}
	for _, in := range [][]byte{nil, enc[:len(enc)-1], append(bytes.Clone(enc), 0), {0x81, 0x00}, {0xff, 0x01}} {
		if _, err := DecodeTreeProof(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeTreeProof(%.16x) = %v, want ErrMalformed", in, err)
		}
	}
}

// TestVerifySigsAgrees checks the batched, parallel signature check
// against crypto/ed25519 one by one, with bad signatures mixed in.
func TestVerifySigsAgrees(t *testing.T) {
	var items []sigItem
	var want []bool
	for i := range 600 {
		r := &Receipt{Provider: provider, Client: client, Shard: testShard, Seq: uint64(i), Bytes: 1}
		must(t, r.Sign(clientKey))
		it := r.sigs(r.appendBody(nil))[0]
		if i%97 == 5 {
			it.sig[3] ^= 1
		}
		items = append(items, it)
		want = append(want, ed25519.Verify(it.pub[:], it.msg, it.sig[:]))
	}
	for _, n := range []int{0, 1, 63, 600} {
		got := verifySigs(items[:n])
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("verifySigs(%d items)[%d] = %v, want %v", n, i, got[i], want[i])
			}
		}
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	h := tlog.RecordHash([]byte("x"))
	f.Add(signCheckpoint(f, providerKey, 5, h))
	f.Add(signCheckpoint(f, otherKey, 0, h))
	f.Add(signText(f, providerKey, "dsn ledger v1 "+provider.String()+"\n05\n"+h.String()+"\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := ParseCheckpoint(msg)
		if err != nil {
			return
		}
		// What parses is exactly the text Checkpoint writes, signed.
		text, _, _ := bytes.Cut(msg, []byte("\n\n"))
		if string(text)+"\n" != checkpointText(c.Node, c.Size, c.Hash) {
			t.Fatalf("ParseCheckpoint(%q) accepted non-canonical text", msg)
		}
		if _, err := VerifyCheckpoint(msg, c.Node); err != nil {
			t.Fatalf("VerifyCheckpoint after ParseCheckpoint = %v", err)
		}
	})
}

func FuzzDecodeInclusionProof(f *testing.F) {
	l := openLog(f, f.TempDir(), providerKey)
	appendAll(f, l, honest(f)...)
	for _, i := range []int64{0, 4, 8} {
		p, err := l.ProveInclusion(i)
		must(f, err)
		b, err := p.MarshalBinary()
		must(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p InclusionProof
		if err := p.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("MarshalBinary(UnmarshalBinary(%x)) = %x, %v", b, again, err)
		}
		_, _, _ = CheckInclusion(&p, provider)
	})
}

func FuzzDecodeTreeProof(f *testing.F) {
	l := openLog(f, f.TempDir(), providerKey)
	appendAll(f, l, honest(f)...)
	tp, err := l.ProveConsistency(3, 9)
	must(f, err)
	enc, _ := EncodeTreeProof(tp)
	f.Add(enc)
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeTreeProof(b)
		if err != nil {
			return
		}
		again, err := EncodeTreeProof(p)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("EncodeTreeProof(DecodeTreeProof(%x)) = %x, %v", b, again, err)
		}
	})
}
