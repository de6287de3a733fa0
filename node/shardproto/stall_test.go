package shardproto

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
)

// stallPut opens a put of size bytes from c and sends no byte of it.
func stallPut(t *testing.T, f *fixture, c dsn.Transport, id dsn.ShardID, size int64) dsn.Stream {
	t.Helper()
	st, err := c.NewStream(testCtx(t), f.provider, PutProtocol)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Reset() })
	if err := writeFrame(st, putRequest{id: id, size: size}); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitInUse waits until f's server has n slots given out.
func waitInUse(t *testing.T, f *fixture, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for all, _ := f.srv.slots.InUse(""); all != n; all, _ = f.srv.slots.InUse("") {
		if time.Now().After(deadline) {
			t.Fatalf("server has %d transfers in progress, want %d", all, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A peer that opens puts and stalls takes its share of the slots, not
// all of them: another peer still stores, and the staller's next stream
// is told why it is refused.
func TestStallingPeerCannotTakeEverySlot(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, newMemStore(), ServerOptions{MaxConcurrent: 4, MaxPerPeer: 2})
	mallory := f.net.Add("mallory")
	for i := range 2 {
		stallPut(t, f, mallory, dsn.ShardID{byte(i + 1)}, 64<<20)
	}
	waitInUse(t, f, 2)
	data, id := shard(1, 1000)
	err := Put(ctx, mallory, f.provider, id, int64(len(data)), bytes.NewReader(data))
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "as many transfers in progress") {
		t.Errorf("staller's third put = %v, want ErrBusy saying it holds its share", err)
	}
	if err := Put(ctx, f.client, f.provider, id, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Errorf("another peer's put while a peer stalls two = %v, want nil", err)
	}
	if _, _, err := getAll(ctx, f, id, 0, -1); err != nil {
		t.Errorf("another peer's get while a peer stalls two = %v, want nil", err)
	}
}

// A put that sends nothing is cut off after Timeout, not after Timeout plus
// the time its announced size takes at MinRate (here 64 s), and its slot
// serves the next peer.
func TestStalledPutIsCutOffAfterTimeout(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, newMemStore(), ServerOptions{MaxConcurrent: 1, Timeout: 200 * time.Millisecond, MinRate: 1 << 20})
	st := stallPut(t, f, f.net.Add("mallory"), dsn.ShardID{1}, 64<<20)
	waitInUse(t, f, 1)
	start := time.Now()
	waitInUse(t, f, 0)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stalled put held its slot %v, want about Timeout (200ms)", took)
	}
	if _, err := st.Write(make([]byte, 1<<10)); err == nil {
		if _, err = st.Read(make([]byte, 1)); err == nil {
			t.Errorf("stalled put's stream still open after the server cut it off")
		}
	}
	data, id := shard(1, 1000)
	if err := Put(ctx, f.client, f.provider, id, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Errorf("put after the staller was cut off = %v, want nil", err)
	}
	if got := f.srv.Stats().PutErrors; got != 1 {
		t.Errorf("Stats().PutErrors = %d, want 1 (the stalled put)", got)
	}
}

// A put that trickles far below MinRate is cut off once it falls Timeout
// behind, not at the deadline of the whole transfer.
func TestTricklingPutIsCutOff(t *testing.T) {
	f := newFixture(t, newMemStore(), ServerOptions{MaxConcurrent: 1, Timeout: 200 * time.Millisecond, MinRate: 1 << 20})
	st := stallPut(t, f, f.net.Add("mallory"), dsn.ShardID{1}, 64<<20)
	// 4 KiB every 20 ms is 200 KiB/s, a fifth of MinRate: it falls 200 ms
	// behind within about a quarter of a second.
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var err error
	for err == nil && time.Since(start) < 10*time.Second {
		<-tick.C
		_, err = st.Write(make([]byte, 4<<10))
	}
	if err == nil {
		t.Fatalf("a put at a fifth of MinRate still open after %v (the whole transfer's deadline is 64 s away)", time.Since(start))
	}
	waitInUse(t, f, 0)
}

// A transfer at full speed is never cut off by the pacing, however long it
// is against Timeout.
func TestPaceLetsFastTransfersThrough(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, newMemStore(), ServerOptions{Timeout: 50 * time.Millisecond, MinRate: 1 << 20})
	data, id := shard(7, 8<<20)
	if err := Put(ctx, f.client, f.provider, id, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("fast put of 8 MiB with a 50 ms Timeout = %v", err)
	}
	got, _, err := getAll(ctx, f, id, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fast get of 8 MiB with a 50 ms Timeout = %d bytes, %v; want the shard", len(got), err)
	}
}
