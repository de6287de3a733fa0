package batch

import (
	"crypto/ed25519"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
)

// FuzzVerify mutates a batch of valid signatures (bytes of keys and
// signatures, small-order points added to R or A, keys swapped) and checks
// Verify against crypto/ed25519.Verify item by item.
func FuzzVerify(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 0, 0, 1})
	f.Add([]byte{5, 2, 40, 1, 9, 3, 4, 0})
	f.Add([]byte{1, 4, 0, 2, 2, 4, 0, 6})
	base := validItems(rand.NewChaCha8([32]byte{7}), 24, 6)
	T := torsion8()
	f.Fuzz(func(t *testing.T, ops []byte) {
		items := make([]Item, len(base))
		for i, it := range base {
			items[i] = Item{PublicKey: append([]byte(nil), it.PublicKey...), Message: it.Message, Signature: append([]byte(nil), it.Signature...)}
		}
		for len(ops) >= 4 {
			it := &items[int(ops[0])%len(items)]
			op, pos, val := ops[1]%6, int(ops[2]), ops[3]
			ops = ops[4:]
			switch op {
			case 0:
				it.Signature[pos%64] ^= val | 1
			case 1:
				it.PublicKey[pos%32] ^= val | 1
			case 2, 3: // add a small-order point to R or to A
				b := it.Signature[:32]
				if op == 3 {
					b = it.PublicKey
				}
				if P, err := new(edwards25519.Point).SetBytes(b); err == nil {
					copy(b, P.Add(P, multiple(T, int(val)%8)).Bytes())
				}
			case 4:
				it.PublicKey = items[pos%len(items)].PublicKey
			case 5: // replace R or A by a small-order point
				if pos&1 == 0 {
					copy(it.Signature[:32], multiple(T, int(val)%8).Bytes())
				} else {
					it.PublicKey = multiple(T, int(val)%8).Bytes()
				}
			}
		}
		got := (&Verifier{MinBatch: 4}).Verify(items, nil)
		for i, it := range items {
			if w := ed25519.Verify(it.PublicKey, it.Message, it.Signature); got[i] != w {
				t.Fatalf("Verify(batch)[%d] = %v, ed25519.Verify = %v", i, got[i], w)
			}
		}
	})
}
