package market

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/dsn-project/dsn"
)

func peers(n int) []dsn.PeerID {
	ps := make([]dsn.PeerID, n)
	for i := range ps {
		ps[i] = dsn.PeerID(fmt.Sprintf("peer-%02d", i))
	}
	return ps
}

// distance recomputes the XOR distance from SHA-256 directly, as a second
// path.
func distance(target []byte, p dsn.PeerID) []byte {
	t, k := sha256.Sum256(target), sha256.Sum256([]byte(p))
	d := make([]byte, len(t))
	for i := range t {
		d[i] = t[i] ^ k[i]
	}
	return d
}

func TestRankIsXORClosestFirst(t *testing.T) {
	ps := peers(20)
	for trial := range 50 {
		target := []byte(fmt.Sprintf("shard-%d", trial))
		got := Rank(target, ps)
		if len(got) != len(ps) {
			t.Fatalf("Rank returned %d peers, want %d", len(got), len(ps))
		}
		for i := 1; i < len(got); i++ {
			if bytes.Compare(distance(target, got[i-1]), distance(target, got[i])) > 0 {
				t.Fatalf("Rank(%q): %s ranked before %s but is farther", target, got[i-1], got[i])
			}
		}
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		if !slices.Equal(sorted, ps) {
			t.Fatalf("Rank(%q) is not a permutation of its input", target)
		}
	}
}

func TestRankDoesNotDependOnInputOrder(t *testing.T) {
	ps := peers(16)
	rev := slices.Clone(ps)
	slices.Reverse(rev)
	target := []byte("x")
	if a, b := Rank(target, ps), Rank(target, rev); !slices.Equal(a, b) {
		t.Fatalf("Rank depends on input order:\n%v\n%v", a, b)
	}
}
