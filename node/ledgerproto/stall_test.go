package ledgerproto

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A peer that opens streams and sends nothing holds its share of the
// slots, not all of them: the others' requests are still answered.
func TestIdlePeerCannotTakeEverySlot(t *testing.T) {
	ctx := testCtx(t)
	f := newFixture(t, ServerOptions{})
	share := DefaultMaxConcurrent / 4
	for range DefaultMaxConcurrent {
		st, err := f.stranger.NewStream(ctx, f.provider, Protocol)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Reset() })
	}
	deadline := time.Now().Add(5 * time.Second)
	for all, _ := f.srv.slots.InUse(""); all != share; all, _ = f.srv.slots.InUse("") {
		if time.Now().After(deadline) {
			t.Fatalf("server has %d requests in progress, want the idle peer's share, %d", all, share)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := FetchCheckpoint(ctx, f.client, f.provider); err != nil {
		t.Errorf("FetchCheckpoint while another peer idles on %d streams = %v, want nil", DefaultMaxConcurrent, err)
	}
	_, err := FetchCheckpoint(ctx, f.stranger, f.provider)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "as many requests in progress") {
		t.Errorf("the idle peer's own request = %v, want ErrBusy saying it holds its share", err)
	}
}
