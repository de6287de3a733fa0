package inproc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/inproc"
	"github.com/dsn-project/dsn/node/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) (dsn.Transport, dsn.Transport) {
		n := inproc.NewNetwork()
		return n.Add("a"), n.Add("b")
	})
}

const holdProto = "/dsn/test/hold/1.0.0"

// holdHandler reads until the stream fails and reports the error.
func holdHandler(errs chan<- error) dsn.StreamHandler {
	return func(s dsn.Stream) {
		_ = s.SetDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, s)
		errs <- err
		_ = s.Reset()
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openHeld opens a stream from a to b's hold handler and makes sure the
// handler is running.
func openHeld(t *testing.T, ctx context.Context, a *inproc.Transport, b dsn.PeerID) dsn.Stream {
	t.Helper()
	s, err := a.NewStream(ctx, b, holdProto)
	if err != nil {
		t.Fatalf("NewStream(%s -> %s) = %v", a.Self(), b, err)
	}
	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	return s
}

// wantBroken checks that both ends of a stream broken by a fault fail with
// an error that says the peer became unreachable.
func wantBroken(t *testing.T, ctx context.Context, s dsn.Stream, handlerErr <-chan error) {
	t.Helper()
	select {
	case err := <-handlerErr:
		if !errors.Is(err, inproc.ErrReset) || !errors.Is(err, dsn.ErrUnreachable) {
			t.Errorf("handler read = %v, want ErrReset and dsn.ErrUnreachable", err)
		}
	case <-ctx.Done():
		t.Fatal("handler never saw the fault")
	}
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, dsn.ErrUnreachable) {
		t.Errorf("opener Read = %v, want dsn.ErrUnreachable", err)
	}
	if _, err := s.Write([]byte("y")); !errors.Is(err, dsn.ErrUnreachable) {
		t.Errorf("opener Write = %v, want dsn.ErrUnreachable", err)
	}
}

func TestKillAndRevive(t *testing.T) {
	ctx := ctxFor(t)
	for _, victim := range []dsn.PeerID{"a", "b"} {
		t.Run("kill "+string(victim), func(t *testing.T) {
			n := inproc.NewNetwork()
			a, b := n.Add("a"), n.Add("b")
			errs := make(chan error, 2)
			b.SetStreamHandler(holdProto, holdHandler(errs))
			a.SetStreamHandler(holdProto, holdHandler(errs))
			s := openHeld(t, ctx, a, "b")
			n.Kill(victim)
			wantBroken(t, ctx, s, errs)

			if _, err := a.NewStream(ctx, "b", holdProto); !errors.Is(err, dsn.ErrUnreachable) {
				t.Errorf("NewStream(a -> b) with %s dead = %v, want dsn.ErrUnreachable", victim, err)
			}
			if _, err := b.NewStream(ctx, "a", holdProto); !errors.Is(err, dsn.ErrUnreachable) {
				t.Errorf("NewStream(b -> a) with %s dead = %v, want dsn.ErrUnreachable", victim, err)
			}
			if got := a.Peers(); len(got) != 0 {
				t.Errorf("a.Peers() with %s dead = %q, want none", victim, got)
			}

			n.Revive(victim)
			s2 := openHeld(t, ctx, a, "b") // handlers survived
			_ = s2.Reset()
			if got, want := a.Peers(), []dsn.PeerID{"b"}; !slices.Equal(got, want) {
				t.Errorf("a.Peers() after Revive = %q, want %q", got, want)
			}
		})
	}
}

func TestPartitionAndHeal(t *testing.T) {
	ctx := ctxFor(t)
	n := inproc.NewNetwork()
	ts := map[dsn.PeerID]*inproc.Transport{}
	errs := make(chan error, 8)
	for _, id := range []dsn.PeerID{"a", "b", "c", "d", "e"} {
		ts[id] = n.Add(id)
		ts[id].SetStreamHandler(holdProto, holdHandler(errs))
	}
	across := openHeld(t, ctx, ts["a"], "c")
	within := openHeld(t, ctx, ts["a"], "b")

	n.Partition([]dsn.PeerID{"a", "b"}, []dsn.PeerID{"c", "d"}) // e is in no group
	wantBroken(t, ctx, across, errs)

	// The stream inside one group still works.
	if _, err := within.Write([]byte("still here")); err != nil {
		t.Errorf("Write within a group after Partition = %v", err)
	}

	tests := []struct {
		from, to dsn.PeerID
		ok       bool
	}{
		{"a", "b", true},
		{"c", "d", true},
		{"a", "c", false},
		{"d", "b", false},
		{"e", "a", false},
		{"c", "e", false},
	}
	for _, tc := range tests {
		s, err := ts[tc.from].NewStream(ctx, tc.to, holdProto)
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, dsn.ErrUnreachable) {
			t.Errorf("partitioned: NewStream(%s -> %s) = %v, want reachable %v", tc.from, tc.to, err, tc.ok)
		}
		if s != nil {
			_ = s.Reset()
		}
	}
	peers := map[dsn.PeerID][]dsn.PeerID{"a": {"b"}, "c": {"d"}, "e": nil}
	for id, want := range peers {
		if got := ts[id].Peers(); !slices.Equal(got, want) {
			t.Errorf("partitioned: %s.Peers() = %q, want %q", id, got, want)
		}
	}

	n.Heal()
	for _, tc := range tests {
		s, err := ts[tc.from].NewStream(ctx, tc.to, holdProto)
		if err != nil {
			t.Errorf("healed: NewStream(%s -> %s) = %v, want nil", tc.from, tc.to, err)
			continue
		}
		_ = s.Reset()
	}
	if got, want := ts["e"].Peers(), []dsn.PeerID{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("healed: e.Peers() = %q, want %q", got, want)
	}
	_ = within.Reset()
}

func TestSelfAndUnknownPeer(t *testing.T) {
	ctx := ctxFor(t)
	n := inproc.NewNetwork()
	a := n.Add("a")
	a.SetStreamHandler(holdProto, func(s dsn.Stream) { _ = s.Reset() })
	for _, p := range []dsn.PeerID{"a", "nobody"} {
		if _, err := a.NewStream(ctx, p, holdProto); !errors.Is(err, dsn.ErrUnreachable) {
			t.Errorf("NewStream(%q) = %v, want dsn.ErrUnreachable", p, err)
		}
	}
}

// TestWriteDeadlineThenResume checks that a write that timed out against a
// full buffer leaves the stream usable once the deadline is extended.
func TestWriteDeadlineThenResume(t *testing.T) {
	ctx := ctxFor(t)
	n := inproc.NewNetwork()
	a, b := n.Add("a"), n.Add("b")
	start := make(chan struct{})
	got := make(chan int64, 1)
	b.SetStreamHandler(holdProto, func(s dsn.Stream) {
		<-start
		n, _ := io.Copy(io.Discard, s)
		got <- n
		_ = s.Close()
	})
	s, err := a.NewStream(ctx, "b", holdProto)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetDeadline(time.Now().Add(20 * time.Millisecond))
	first, err := s.Write(make([]byte, 2*inproc.MaxBuffer))
	if first != inproc.MaxBuffer || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write(2 windows) to a stalled reader = %d, %v; want %d, os.ErrDeadlineExceeded", first, err, inproc.MaxBuffer)
	}
	close(start)
	_ = s.SetDeadline(time.Time{})
	second, err := s.Write(make([]byte, 3*inproc.MaxBuffer))
	if err != nil {
		t.Fatalf("Write after clearing the deadline = %d, %v", second, err)
	}
	_ = s.CloseWrite()
	if n := <-got; n != int64(first+second) {
		t.Errorf("reader got %d bytes, want %d", n, first+second)
	}
}

func BenchmarkStream(b *testing.B) {
	for _, size := range []int{32 << 10, 256 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			n := inproc.NewNetwork()
			x, y := n.Add("x"), n.Add("y")
			done := make(chan int64, 1)
			y.SetStreamHandler(holdProto, func(s dsn.Stream) {
				buf := make([]byte, size)
				n, _ := io.CopyBuffer(io.Discard, struct{ io.Reader }{s}, buf)
				done <- n
				_ = s.Close()
			})
			s, err := x.NewStream(context.Background(), "y", holdProto)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			_ = s.CloseWrite()
			<-done
		})
	}
}

func byteSize(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
