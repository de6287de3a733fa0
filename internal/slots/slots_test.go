package slots

import (
	"sync"
	"testing"
)

func TestOnePeerCannotTakeEverySlot(t *testing.T) {
	l := New[string](16, 4)
	for i := range 4 {
		if got := l.Acquire("mallory"); got != Granted {
			t.Fatalf("mallory's slot %d: Acquire = %v, want Granted", i+1, got)
		}
	}
	if got := l.Acquire("mallory"); got != PeerFull {
		t.Fatalf("mallory's 5th slot: Acquire = %v, want PeerFull", got)
	}
	for i := range 12 {
		if got := l.Acquire(string(rune('a' + i))); got != Granted {
			t.Fatalf("peer %d while mallory holds 4: Acquire = %v, want Granted", i, got)
		}
	}
	if got := l.Acquire("zed"); got != Full {
		t.Fatalf("17th slot: Acquire = %v, want Full", got)
	}
	l.Release("a")
	if got := l.Acquire("zed"); got != Granted {
		t.Fatalf("after a release: Acquire = %v, want Granted", got)
	}
	l.Release("mallory")
	if got := l.Acquire("mallory"); got != Granted {
		t.Fatalf("mallory after releasing one: Acquire = %v, want Granted", got)
	}
	if all, m := l.InUse("mallory"); all != 16 || m != 4 {
		t.Fatalf("InUse = %d, %d, want 16, 4", all, m)
	}
}

func TestDefaults(t *testing.T) {
	for _, c := range []struct{ total, perPeer, want int }{
		{64, 0, 16}, {16, 0, 4}, {32, 0, 8}, {2, 0, 2}, {8, 20, 8}, {8, 3, 3},
	} {
		if got := New[int](c.total, c.perPeer).perPeer; got != c.want {
			t.Errorf("New(%d, %d) per peer = %d, want %d", c.total, c.perPeer, got, c.want)
		}
	}
}

func TestReleaseWithoutAcquirePanics(t *testing.T) {
	l := New[int](4, 0)
	defer func() {
		if recover() == nil {
			t.Fatal("Release without Acquire did not panic")
		}
	}()
	l.Release(1)
}

// Concurrent peers never exceed either bound and leave nothing behind.
func TestConcurrentBounds(t *testing.T) {
	l := New[int](8, 3)
	var wg sync.WaitGroup
	var mu sync.Mutex
	held := map[int]int{}
	total := 0
	for p := range 6 {
		wg.Go(func() {
			for range 2000 {
				if l.Acquire(p) != Granted {
					continue
				}
				mu.Lock()
				held[p]++
				total++
				if held[p] > 3 || total > 8 {
					t.Errorf("peer %d holds %d, all %d: over the bounds 3 and 8", p, held[p], total)
				}
				mu.Unlock()
				mu.Lock()
				held[p]--
				total--
				mu.Unlock()
				l.Release(p)
			}
		})
	}
	wg.Wait()
	if all, _ := l.InUse(0); all != 0 || len(l.byPeer) != 0 {
		t.Fatalf("after every release: %d in use, %d peers tracked", all, len(l.byPeer))
	}
}

func TestRefusalText(t *testing.T) {
	if got := PeerFull.Text("transfers"); got != "this peer has as many transfers in progress as it may have at once" {
		t.Errorf("PeerFull.Text = %q", got)
	}
	if got := Full.Text("transfers"); got != "" {
		t.Errorf("Full.Text = %q, want empty: Busy says enough", got)
	}
}
