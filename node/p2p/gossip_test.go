package p2p

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
)

func TestGossip(t *testing.T) {
	hs := newNetwork(t, 3)
	topics := make([]*Topic, len(hs))
	for i, h := range hs {
		tp, err := h.Join("/dsn/test/1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tp.Close() })
		topics[i] = tp
	}
	// Subscriptions and the mesh form by gossip, over heartbeats: publish
	// once a heartbeat until both others have the message, up to a
	// deadline. Gossip is for statements that are republished anyway
	// (checkpoints every epoch), so a message sent before the mesh formed
	// may be lost, and this is how its users behave too.
	msg := []byte("checkpoint 1")
	got := make(chan int, 2)
	for i := 1; i < 3; i++ {
		go func() {
			ctx, cancel := context.WithTimeout(testCtx(t), 20*time.Second)
			defer cancel()
			from, data, err := topics[i].Next(ctx)
			if err != nil || from != hs[0].Self() || !bytes.Equal(data, msg) {
				t.Errorf("host %d got %q from %s, %v; want %q from %s", i, data, from, err, msg, hs[0].Self())
			}
			got <- i
		}()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for received := 0; received < 2; {
		if err := topics[0].Publish(testCtx(t), msg); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			received++
		case <-tick.C:
		}
	}
	if err := topics[0].Publish(testCtx(t), make([]byte, MaxGossipSize+1)); !errors.Is(err, ErrGossipTooLarge) {
		t.Errorf("Publish of %d bytes = %v, want ErrGossipTooLarge", MaxGossipSize+1, err)
	}
}

func TestPublicKey(t *testing.T) {
	h := newHost(t, Config{ListenAddrs: []string{tcpLoopback}})
	pub, err := PublicKey(h.Self())
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != ed25519.PublicKeySize {
		t.Fatalf("PublicKey = %d bytes", len(pub))
	}
	if _, err := PublicKey(dsn.PeerID("not a peer id")); err == nil {
		t.Error("PublicKey of a made-up ID succeeded")
	}
}
