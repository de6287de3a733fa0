package auditproto

import (
	"strings"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
)

// waitInUse waits until f's server has n slots given out.
func waitInUse(t *testing.T, f *fixture, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for all, _ := f.srv.slots.InUse(""); all != n; all, _ = f.srv.slots.InUse("") {
		if time.Now().After(deadline) {
			t.Fatalf("server has %d requests in progress, want %d", all, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// stallChallenge sends a challenge from c whose proof it never reads: a
// proof of MaxMerkleSamples leaves is several MiB, more than the stream's
// window, so the server's write blocks until its deadline.
func stallChallenge(t *testing.T, f *fixture, c dsn.Transport, id dsn.ShardID, i int) dsn.Stream {
	t.Helper()
	st, err := c.NewStream(testCtx(t), f.provider, Protocol)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Reset() })
	if err := writeFrame(st, merkleRequest{id: id, seed: epochSeed(i), c: MaxMerkleSamples}); err != nil {
		t.Fatal(err)
	}
	_ = st.CloseWrite()
	return st
}

// A peer that sends challenges and never reads the proofs holds its share
// of the slots, not all of them: the owner's honest audit still passes
// instead of being answered Busy (which an auditor records as Missed).
func TestStallingPeerCannotStarveAudits(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	id := f.add(t, 1, 8<<20)
	mallory := f.net.Add("mallory")
	share := DefaultMaxConcurrent / 4
	for i := range share {
		stallChallenge(t, f, mallory, id, i)
	}
	waitInUse(t, f, share)
	// Every slot the server has, asked for by the same peer.
	for i := share; i < DefaultMaxConcurrent; i++ {
		st := stallChallenge(t, f, mallory, id, i)
		body, err := readFrame(st, MaxReplySize)
		var r reply
		if err == nil {
			r, err = decodeReply(body)
		}
		if err != nil || r.code != CodeBusy || !strings.Contains(r.text, "as many requests in progress") {
			t.Fatalf("the staller's challenge %d, beyond its share: reply %+v, %v; want Busy saying it holds its share", i+1, r, err)
		}
	}
	res := AuditMerkle(ctx, f.third, f.provider, id, 8<<20, epochSeed(99), 8)
	if res.Outcome != Pass {
		t.Errorf("honest audit while a peer stalls %d challenges = %v (%v), want Pass", DefaultMaxConcurrent, res.Outcome, res.Reason)
	}
}
