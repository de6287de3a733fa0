package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dsn-project/dsn/seal"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-multihash"
)

func ExampleParseReference() {
	blob := []byte("an envelope")
	var key seal.Key
	for i := range key {
		key[i] = byte(i)
	}
	ref := Reference{Manifest: CID(blob), Key: &key}
	s := ref.String()
	fmt.Println(s)

	parsed, err := ParseReference(s)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(parsed.Manifest == ref.Manifest, *parsed.Key == key)

	_, err = ParseReference("dsn:" + ref.Manifest.String())
	fmt.Println("public:", err)
	_, err = ParseReference(ref.Manifest.String())
	fmt.Println(err)
	// Output:
	// dsn:bafkr4ifkqbyxawxhujekaguzhhj2qhtjne55iqe2bggm5pha5osnlr5u64#AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
	// true true
	// public: <nil>
	// parse reference "bafkr4ifkqbyxawxhujekaguzhhj2qhtjne55iqe2bggm5pha5osnlr5u64": malformed reference: missing "dsn:" prefix
}

func TestReferenceRoundTrip(t *testing.T) {
	key := testKey()
	c := CID([]byte("x"))
	for _, r := range []Reference{{Manifest: c}, {Manifest: c, Key: &key}} {
		s := r.String()
		got, err := ParseReference(s)
		if err != nil {
			t.Fatalf("ParseReference(%q) = %v", s, err)
		}
		if got.Manifest != r.Manifest || (got.Key == nil) != (r.Key == nil) || (got.Key != nil && *got.Key != *r.Key) {
			t.Errorf("ParseReference(%q) = %v, want %v", s, got, r)
		}
		if got.String() != s {
			t.Errorf("ParseReference(%q).String() = %q", s, got.String())
		}
	}
	// Other multibases are read; String writes base32.
	b58, _ := c.StringOfBase(multibase.Base58BTC)
	got, err := ParseReference("dsn:" + b58)
	if err != nil || got.Manifest != c {
		t.Errorf("ParseReference(base58 CID) = %v, %v, want %s", got, err, c)
	}
}

func TestParseReferenceErrors(t *testing.T) {
	c := CID([]byte("x")).String()
	key := testKey()
	k := Reference{Manifest: CID(nil), Key: &key}.String()
	k = k[strings.Index(k, "#")+1:]
	sha, _ := multihash.Sum([]byte("x"), multihash.SHA2_256, -1)
	tests := []struct {
		in   string
		want error
		msg  string
	}{
		{"", ErrReference, `missing "dsn:" prefix`},
		{c, ErrReference, `missing "dsn:" prefix`},
		{"DSN:" + c, ErrReference, `missing "dsn:" prefix`},
		{"dsn:", ErrReference, "missing manifest CID"},
		{"dsn:#" + k, ErrReference, "missing manifest CID"},
		{"dsn:notacid", ErrReference, "bad manifest CID"},
		{"dsn:" + c[:len(c)-2], ErrReference, "bad manifest CID"},
		{"dsn:" + c + " ", ErrReference, "bad manifest CID"},
		{"dsn:" + cid.NewCidV0(sha).String(), ErrCID, "CIDv0"},
		{"dsn:" + cid.NewCidV1(cid.Raw, sha).String(), ErrCID, "sha2-256"},
		{"dsn:" + c + "#", ErrReference, "empty key"},
		{"dsn:" + c + "#" + k[:42], ErrReference, "key has 42 characters, want 43"},
		{"dsn:" + c + "#" + k + "A", ErrReference, "key has 44 characters"},
		{"dsn:" + c + "#" + k + "=", ErrReference, "key has 44 characters"},
		{"dsn:" + c + "#" + k[:42] + "+", ErrReference, "not unpadded base64url"},
		{"dsn:" + c + "#" + k[:42] + "/", ErrReference, "not unpadded base64url"},
		// 'B' sets bits past the 256th: a second spelling of a key.
		{"dsn:" + c + "#" + k[:42] + "B", ErrReference, "not unpadded base64url"},
		{"dsn:" + c + "#" + k + "#" + k, ErrReference, "key has 87 characters"},
		{"dsn:" + strings.Repeat("b", 600), ErrReference, "more than 512"},
	}
	for _, tt := range tests {
		got, err := ParseReference(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("ParseReference(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseReference(%q) error %q does not say %q", tt.in, err, tt.msg)
		}
		if len(k) > 8 && strings.Contains(err.Error(), k[:20]) {
			t.Errorf("ParseReference(%q) error %q leaks the key", tt.in, err)
		}
	}
}
