package market

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// testAsk returns an ask signed by the key of seed, valid for an hour
// after t0.
func testAsk(t testing.TB, seed byte, seq uint64) Ask {
	t.Helper()
	a := Ask{
		Seq: seq, PricePerGiBMonth: 1_000_000_000, PricePerGiB: 100_000_000, CollateralPerGiB: 2_000_000_000,
		FreeCapacity: 100 << 30, MinShardSize: 1, MaxShardSize: 1 << 30, ValidUntil: uint64(t0.Add(time.Hour).Unix()),
	}
	if err := a.Sign(testKey(seed)); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAskRoundTrip(t *testing.T) {
	a := testAsk(t, 1, 7)
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxAskSize {
		t.Fatalf("encoded ask is %d bytes, above MaxAskSize %d", len(b), MaxAskSize)
	}
	var got Ask
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatalf("UnmarshalBinary(MarshalBinary(a)) = %v", err)
	}
	if got != a {
		t.Fatalf("round trip changed the ask:\n got %+v\nwant %+v", got, a)
	}
	if err := got.Verify(); err != nil {
		t.Fatalf("Verify of a decoded signed ask = %v", err)
	}
	if want := ed25519.PublicKey(got.Provider[:]); !want.Equal(testKey(1).Public()) {
		t.Fatalf("Sign did not set the provider to the signing key")
	}
}

// TestAskLargest checks the size bound claimed in MaxAskSize's comment.
func TestAskLargest(t *testing.T) {
	a := Ask{Seq: ^uint64(0), PricePerGiBMonth: MaxPrice, PricePerGiB: MaxPrice, CollateralPerGiB: MaxPrice,
		FreeCapacity: MaxCapacity, MinShardSize: 1 << 31, MaxShardSize: 1 << 31, ValidUntil: MaxTime}
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 150 || len(b) > MaxAskSize {
		t.Fatalf("largest ask encodes to %d bytes, want 150", len(b))
	}
}

func TestAskGolden(t *testing.T) {
	a := testAsk(t, 1, 7)
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "ask.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != strings.TrimSpace(string(want)) {
		t.Fatalf("ask encoding changed:\n got %s\nwant %s", got, want)
	}
}

func TestAskDecodeRejects(t *testing.T) {
	a := testAsk(t, 1, 7)
	good, _ := a.MarshalBinary()
	// body re-encodes a with one field changed, unsigned: decoding checks
	// bounds, not signatures.
	body := func(f func(*Ask)) []byte {
		c := a
		f(&c)
		return append(c.appendBody(nil), c.Sig[:]...)
	}
	// nonMinimal rewrites the sequence number (1 byte, 7) as 0x87 0x00.
	nonMinimal := append(append(append([]byte{}, good[:33]...), 0x87, 0x00), good[34:]...)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrAskMalformed},
		{"version 2", append([]byte{2}, good[1:]...), ErrAskVersion},
		{"version 0", append([]byte{0}, good[1:]...), ErrAskVersion},
		{"truncated key", good[:20], ErrAskMalformed},
		{"truncated varint", good[:34], ErrAskMalformed},
		{"truncated signature", good[:len(good)-1], ErrAskMalformed},
		{"trailing byte", append(bytes.Clone(good), 0), ErrAskMalformed},
		{"non-minimal varint", nonMinimal, ErrAskMalformed},
		{"too large", make([]byte, MaxAskSize+1), ErrAskTooLarge},
		{"storage price", body(func(c *Ask) { c.PricePerGiBMonth = MaxPrice + 1 }), ErrAskMalformed},
		{"bandwidth price", body(func(c *Ask) { c.PricePerGiB = MaxPrice + 1 }), ErrAskMalformed},
		{"collateral", body(func(c *Ask) { c.CollateralPerGiB = MaxPrice + 1 }), ErrAskMalformed},
		{"capacity", body(func(c *Ask) { c.FreeCapacity = MaxCapacity + 1 }), ErrAskMalformed},
		{"min shard 0", body(func(c *Ask) { c.MinShardSize = 0 }), ErrAskMalformed},
		{"min above max", body(func(c *Ask) { c.MinShardSize = c.MaxShardSize + 1 }), ErrAskMalformed},
		{"max shard", body(func(c *Ask) { c.MaxShardSize = 1<<31 + 1 }), ErrAskMalformed},
		{"valid until 0", body(func(c *Ask) { c.ValidUntil = 0 }), ErrAskMalformed},
		{"valid until", body(func(c *Ask) { c.ValidUntil = MaxTime + 1 }), ErrAskMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Ask{Seq: 99}
			err := got.UnmarshalBinary(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("UnmarshalBinary(%x) = %v, want %v", tt.in, err, tt.want)
			}
			if got != (Ask{Seq: 99}) {
				t.Fatalf("UnmarshalBinary changed its receiver on error")
			}
		})
	}
	// Encoding refuses the same out-of-bounds fields.
	c := a
	c.MinShardSize = 0
	if _, err := c.MarshalBinary(); !errors.Is(err, ErrAskMalformed) {
		t.Fatalf("MarshalBinary(min shard 0) = %v, want %v", err, ErrAskMalformed)
	}
	if err := c.Sign(testKey(1)); !errors.Is(err, ErrAskMalformed) {
		t.Fatalf("Sign(min shard 0) = %v, want %v", err, ErrAskMalformed)
	}
}

func TestAskVerify(t *testing.T) {
	a := testAsk(t, 1, 7)
	tests := []struct {
		name string
		f    func(*Ask)
		want error
	}{
		{"untouched", func(*Ask) {}, nil},
		{"sequence", func(c *Ask) { c.Seq++ }, ErrAskSignature},
		{"storage price", func(c *Ask) { c.PricePerGiBMonth-- }, ErrAskSignature},
		{"bandwidth price", func(c *Ask) { c.PricePerGiB-- }, ErrAskSignature},
		{"collateral", func(c *Ask) { c.CollateralPerGiB-- }, ErrAskSignature},
		{"capacity", func(c *Ask) { c.FreeCapacity++ }, ErrAskSignature},
		{"min shard", func(c *Ask) { c.MinShardSize++ }, ErrAskSignature},
		{"max shard", func(c *Ask) { c.MaxShardSize-- }, ErrAskSignature},
		{"valid until", func(c *Ask) { c.ValidUntil++ }, ErrAskSignature},
		{"provider", func(c *Ask) { copy(c.Provider[:], testKey(2).Public().(ed25519.PublicKey)) }, ErrAskSignature},
		{"signature", func(c *Ask) { c.Sig[0] ^= 1 }, ErrAskSignature},
		{"out of bounds", func(c *Ask) { c.MinShardSize = 0 }, ErrAskMalformed},
		{"no domain prefix", func(c *Ask) {
			copy(c.Sig[:], ed25519.Sign(testKey(1), c.appendBody(nil)))
		}, ErrAskSignature},
	}
	for _, tt := range tests {
		c := a
		tt.f(&c)
		if err := c.Verify(); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Verify() = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := (&Ask{}).Sign(ed25519.PrivateKey{1, 2}); !errors.Is(err, ErrAskKey) {
		t.Errorf("Sign(2-byte key) = %v, want %v", err, ErrAskKey)
	}
}

func TestAskFits(t *testing.T) {
	a := testAsk(t, 1, 7)
	a.MinShardSize, a.MaxShardSize, a.FreeCapacity = 1024, 64<<20, 32<<20
	lim := ClientLimits{MaxPricePerGiBMonth: 1_000_000_000, MaxPricePerGiB: 100_000_000, MinCollateralPerGiB: 2_000_000_000}
	tests := []struct {
		name  string
		lim   func(*ClientLimits)
		size  int64
		now   time.Time
		want  error
		words string // in the message
	}{
		{"fits at the limits", nil, 1 << 20, t0, nil, ""},
		{"no price limit", func(l *ClientLimits) { l.MaxPricePerGiBMonth, l.MaxPricePerGiB = 0, 0 }, 1 << 20, t0, nil, ""},
		{"last second", nil, 1 << 20, t0.Add(time.Hour - time.Second), nil, ""},
		{"expired at ValidUntil", nil, 1 << 20, t0.Add(time.Hour), ErrAskExpired, "2030-01-01T01:00:00Z"},
		{"storage price", func(l *ClientLimits) { l.MaxPricePerGiBMonth-- }, 1 << 20, t0, ErrPriceTooHigh, "1000000000 nano-units per GiB-month, limit 999999999"},
		{"bandwidth price", func(l *ClientLimits) { l.MaxPricePerGiB = 1 }, 1 << 20, t0, ErrPriceTooHigh, "per GiB served"},
		{"collateral", func(l *ClientLimits) { l.MinCollateralPerGiB++ }, 1 << 20, t0, ErrCollateralTooLow, "minimum 2000000001"},
		{"smallest shard", nil, 1024, t0, nil, ""},
		{"shard too small", nil, 1023, t0, ErrShardSizeLimits, "1023 bytes, provider takes [1024, 67108864]"},
		{"negative shard", nil, -1, t0, ErrShardSizeLimits, ""},
		{"shard too large", nil, 64<<20 + 1, t0, ErrShardSizeLimits, ""},
		{"all free capacity", nil, 32 << 20, t0, nil, ""},
		{"no capacity", nil, 32<<20 + 1, t0, ErrNoCapacity, "33554433 bytes, 33554432 free"},
	}
	for _, tt := range tests {
		l := lim
		if tt.lim != nil {
			tt.lim(&l)
		}
		err := a.Fits(l, tt.size, tt.now)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Fits(%d) = %v, want %v", tt.name, tt.size, err, tt.want)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tt.words) {
			t.Errorf("%s: Fits(%d) = %q, want it to say %q", tt.name, tt.size, err, tt.words)
		}
	}
}

// FuzzDecodeAsk checks that the decoder never panics, that whatever it
// accepts re-encodes to the same bytes (one encoding per ask), and that
// Verify of a decoded ask fails only on its signature.
func FuzzDecodeAsk(f *testing.F) {
	a := testAsk(f, 1, 7)
	good, _ := a.MarshalBinary()
	f.Add(good)
	f.Add(good[:40])
	f.Add(binary.AppendUvarint([]byte{AskVersion}, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Ask
		if err := a.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrAskMalformed) && !errors.Is(err, ErrAskTooLarge) && !errors.Is(err, ErrAskVersion) {
				t.Fatalf("UnmarshalBinary(%x) = %v, not one of the decode errors", b, err)
			}
			return
		}
		again, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a decoded ask = %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decode/encode is not the identity:\n in %x\nout %x", b, again)
		}
		if err := a.Verify(); err != nil && !errors.Is(err, ErrAskSignature) {
			t.Fatalf("Verify of a decoded ask = %v, want nil or %v", err, ErrAskSignature)
		}
	})
}
