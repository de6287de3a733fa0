package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestEntryGolden pins the encoding of one entry of each kind: a change
// to these bytes is a format change and needs a new Version.
func TestEntryGolden(t *testing.T) {
	var out strings.Builder
	for _, e := range []Entry{newDeal(t, testShard, dealFrom, dealTo), newReceipt(t, testShard, 1, 2, 1<<28), newCredit(t, testShard, 1000), penaltyOf(t, testShard, 1002, hour, 700),
		newEnd(t, testShard, dealFrom, 1003*hour, EndFailed, testCollateral, auditorKey)} {
		b, err := Marshal(e)
		if err != nil {
			t.Fatalf("Marshal(%s) = %v", e.Kind(), err)
		}
		out.WriteString(e.Kind().String() + " " + hex.EncodeToString(b) + "\n")
		got, err := DecodeEntry(b)
		if err != nil {
			t.Fatalf("DecodeEntry(Marshal(%s)) = %v", e.Kind(), err)
		}
		if err := CheckSignatures(got); err != nil {
			t.Errorf("CheckSignatures(%s) = %v", e.Kind(), err)
		}
		b2, _ := Marshal(got)
		if !bytes.Equal(b, b2) {
			t.Errorf("Marshal(DecodeEntry(%x)) = %x", b, b2)
		}
	}
	path := filepath.Join("testdata", "entries.golden")
	if *update {
		must(t, os.WriteFile(path, []byte(out.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	must(t, err)
	if out.String() != string(want) {
		t.Errorf("encodings differ from %s:\n%s\nwant\n%s", path, out.String(), want)
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	valid, _ := Marshal(newReceipt(t, testShard, 1, 1, 100))
	deal := newDeal(t, testShard, dealFrom, dealTo)
	mut := func(f func(d *Deal)) []byte {
		d := *deal
		d.Auditors = append([]PublicKey(nil), deal.Auditors...)
		f(&d)
		// Encode by hand: Marshal refuses what decoding must refuse.
		b := d.appendBody(nil)
		return append(append(b, d.ClientSig[:]...), d.ProviderSig[:]...)
	}
	end := newEnd(t, testShard, dealFrom, dealFrom+hour, EndFailed, 1, clientKey)
	mutEnd := func(f func(e *End)) []byte {
		e := *end
		f(&e)
		return append(e.appendBody(nil), e.SignerSig[:]...)
	}
	var many []PublicKey
	for i := range MaxAuditors + 1 {
		many = append(many, PublicKey{byte(i + 1)})
	}
	nonMinimal := append([]byte(nil), valid[:2+32+32+32+16]...)
	nonMinimal = append(nonMinimal, 0x81, 0x00) // seq 1 in two bytes
	nonMinimal = append(nonMinimal, valid[2+32+32+32+16+1:]...)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"version 1", append([]byte{1}, valid[1:]...), ErrVersion},
		{"version 3", append([]byte{3}, valid[1:]...), ErrVersion},
		{"kind", append([]byte{Version, 9}, valid[2:]...), ErrMalformed},
		{"truncated", valid[:len(valid)-1], ErrMalformed},
		{"trailing", append(bytes.Clone(valid), 0), ErrMalformed},
		{"non-minimal varint", nonMinimal, ErrMalformed},
		{"oversized", make([]byte, MaxEntrySize+1), ErrTooLarge},
		{"17 auditors", mut(func(d *Deal) { d.Auditors = many }), ErrMalformed},
		{"no auditors", mut(func(d *Deal) { d.Auditors = nil }), ErrMalformed},
		{"unsorted auditors", mut(func(d *Deal) { d.Auditors[0], d.Auditors[1] = d.Auditors[1], d.Auditors[0] }), ErrMalformed},
		{"provider audits", mut(func(d *Deal) { d.Auditors = []PublicKey{provider} }), ErrSelfDealing},
		{"size 0", mut(func(d *Deal) { d.Size = 0 }), ErrMalformed},
		{"empty time", mut(func(d *Deal) { d.End = d.Start }), ErrMalformed},
		{"price", mut(func(d *Deal) { d.PricePerGiB = MaxPrice + 1 }), ErrMalformed},
		{"collateral", mut(func(d *Deal) { d.Collateral = MaxAmount + 1 }), ErrMalformed},
		{"end reason 0", mutEnd(func(e *End) { e.Reason = 0 }), ErrMalformed},
		{"end reason 4", mutEnd(func(e *End) { e.Reason = 4 }), ErrMalformed},
		{"end before the deal's start", mutEnd(func(e *End) { e.At = e.Start - 1 }), ErrMalformed},
		{"forfeit above bound", mutEnd(func(e *End) { e.Forfeit = MaxAmount + 1 }), ErrMalformed},
		{"expired deal forfeits", mutEnd(func(e *End) { e.Reason = EndExpired }), ErrMalformed},
		{"cancelled deal forfeits", mutEnd(func(e *End) { e.Reason = EndCancelled }), ErrMalformed},
		{"end signed by the provider", mutEnd(func(e *End) { e.Signer = provider }), ErrSelfDealing},
		{"end of a self-deal", mutEnd(func(e *End) { e.Client = provider }), ErrSelfDealing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := DecodeEntry(tt.in)
			if !errors.Is(err, tt.want) {
				t.Errorf("DecodeEntry(%.40x...) = %v, %v; want %v", tt.in, e, err, tt.want)
			}
		})
	}
}

func TestSignWithWrongKey(t *testing.T) {
	r := &Receipt{Provider: provider, Client: client, Shard: testShard, Seq: 1, Bytes: 1}
	if err := r.Sign(providerKey); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Receipt.Sign(provider's key) = %v, want ErrWrongKey", err)
	}
	c := &Credit{Provider: provider, Client: client, Auditor: auditor, Shard: testShard, Epoch: 1, EpochSeconds: 1, Bytes: 1}
	if err := c.Sign(ed25519.PrivateKey{1, 2}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Credit.Sign(short key) = %v, want ErrWrongKey", err)
	}
}

// TestDomainSeparation checks that a signature made for one kind does
// not verify as another kind over the same body bytes.
func TestDomainSeparation(t *testing.T) {
	c := newCredit(t, testShard, 1000)
	p := &Penalty{Provider: c.Provider, Client: c.Client, Auditor: c.Auditor, Shard: c.Shard, Epoch: c.Epoch, EpochSeconds: c.EpochSeconds, Outcome: OutcomeFail, AuditorSig: c.AuditorSig}
	if err := CheckSignatures(p); !errors.Is(err, ErrBadSignature) {
		t.Errorf("CheckSignatures(penalty with a credit's signature) = %v, want ErrBadSignature", err)
	}
	body := c.appendBody(nil)
	if ed25519.Verify(auditor[:], body, c.AuditorSig[:]) {
		t.Error("credit signature verifies over the bare body, without its domain")
	}
}

func FuzzDecodeEntry(f *testing.F) {
	seeds := append(honest(f), newEnd(f, testShard, dealFrom, dealTo, EndExpired, 0, clientKey),
		newEnd(f, testShard, dealFrom, dealFrom+5*hour, EndFailed, testCollateral, auditorKey))
	for _, e := range seeds {
		b, _ := Marshal(e)
		f.Add(b)
	}
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEntry(b)
		if err != nil {
			return
		}
		again, err := Marshal(e)
		if err != nil {
			t.Fatalf("Marshal(DecodeEntry(%x)) = %v", b, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("Marshal(DecodeEntry(%x)) = %x: two encodings of one entry", b, again)
		}
		_ = CheckSignatures(e)
	})
}
