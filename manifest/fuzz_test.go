package manifest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dsn-project/dsn/seal"
)

// FuzzUnmarshal checks that no input makes the decoder panic, and that
// whatever it accepts is valid and re-encodes to the very same bytes (one
// encoding per manifest).
func FuzzUnmarshal(f *testing.F) {
	for _, private := range []bool{false, true} {
		b, err := testManifest(private).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	empty := testManifest(false)
	empty.Size, empty.Segments = 0, nil
	b, _ := empty.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Manifest
		if err := m.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrVersion) {
				t.Fatalf("UnmarshalBinary error %v wraps neither ErrFormat nor ErrVersion", err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("UnmarshalBinary accepted a manifest that Validate rejects: %v", err)
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of an accepted manifest: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, re-encoded as %x", b, again)
		}
	})
}

// FuzzOpen checks envelopes: no panics, errors of the documented kinds, and
// accepted public envelopes rebuild byte for byte.
func FuzzOpen(f *testing.F) {
	public, private := goldenBlobs(f)
	f.Add(public)
	f.Add(private)
	f.Add([]byte("DSNE\x02\x01"))
	key := testKey().ManifestKey()
	f.Fuzz(func(t *testing.T, blob []byte) {
		for _, k := range []*seal.ManifestKey{nil, &key} {
			m, err := Open(blob, k)
			if err != nil {
				if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrNoKey) && !errors.Is(err, seal.ErrAuth) {
					t.Fatalf("Open error %v is none of the documented kinds", err)
				}
				continue
			}
			if m.Public() {
				again, err := Public(m)
				if err != nil || !bytes.Equal(again, blob) {
					t.Fatalf("Public(Open(%x)) = %x, %v", blob, again, err)
				}
			} else if k == nil {
				t.Fatalf("Open(%x, nil) returned a private manifest", blob)
			}
		}
	})
}

// FuzzParseReference checks that parsing never panics and that an accepted
// reference prints in a form that parses to the same value.
func FuzzParseReference(f *testing.F) {
	key := testKey()
	c := CID([]byte("seed"))
	f.Add(Reference{Manifest: c}.String())
	f.Add(Reference{Manifest: c, Key: &key}.String())
	f.Add("dsn:")
	f.Add("dsn:#")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			if !errors.Is(err, ErrReference) {
				t.Fatalf("ParseReference(%q) error %v does not wrap ErrReference", s, err)
			}
			return
		}
		out := r.String()
		r2, err := ParseReference(out)
		if err != nil {
			t.Fatalf("ParseReference(%q) = %v, printed from %q", out, err, s)
		}
		if r2.Manifest != r.Manifest || (r2.Key == nil) != (r.Key == nil) || (r.Key != nil && *r.Key != *r2.Key) {
			t.Fatalf("ParseReference(%q) = %v, want %v", out, r2, r)
		}
		if r2.String() != out {
			t.Fatalf("String not stable: %q then %q", out, r2.String())
		}
	})
}
