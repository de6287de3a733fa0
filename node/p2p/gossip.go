package p2p

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dsn-project/dsn"
)

// MaxGossipSize bounds one gossip message: gossip carries small signed
// statements (ledger checkpoints, asks), never data.
const MaxGossipSize = 16 << 10

// gossip is the host's gossipsub router, started on first use.
type gossip struct {
	once sync.Once
	ps   *pubsub.PubSub
	err  error
	stop context.CancelFunc
}

func (h *Host) pubsub() (*pubsub.PubSub, error) {
	h.gossip.once.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		h.gossip.stop = cancel
		// Messages are signed by their origin and checked on receipt
		// (the default strict signing), so From names the peer that
		// published, not the one that forwarded.
		h.gossip.ps, h.gossip.err = pubsub.NewGossipSub(ctx, h.h,
			pubsub.WithMaxMessageSize(MaxGossipSize),
			pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		)
		if h.gossip.err != nil {
			cancel()
		}
	})
	return h.gossip.ps, h.gossip.err
}

func (h *Host) closeGossip() {
	if h.gossip.stop != nil {
		h.gossip.stop()
	}
}

// Topic is a gossipsub topic the host has joined.
type Topic struct {
	t    *pubsub.Topic
	sub  *pubsub.Subscription
	self peer.ID
}

// Join joins the gossip topic name and subscribes to it.
func (h *Host) Join(name string) (*Topic, error) {
	ps, err := h.pubsub()
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	t, err := ps.Join(name)
	if err != nil {
		return nil, fmt.Errorf("gossip: join %s: %w", name, err)
	}
	sub, err := t.Subscribe()
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("gossip: subscribe %s: %w", name, err)
	}
	return &Topic{t: t, sub: sub, self: h.h.ID()}, nil
}

// ErrGossipTooLarge is returned by Publish for a message over
// MaxGossipSize.
var ErrGossipTooLarge = errors.New("gossip message too large")

// Publish sends data to the topic's subscribers.
func (t *Topic) Publish(ctx context.Context, data []byte) error {
	if len(data) > MaxGossipSize {
		return fmt.Errorf("publish %d bytes, at most %d: %w", len(data), MaxGossipSize, ErrGossipTooLarge)
	}
	return t.t.Publish(ctx, data)
}

// Next returns the next message published by another peer, with its
// origin as the signature on it proves.
func (t *Topic) Next(ctx context.Context) (dsn.PeerID, []byte, error) {
	for {
		m, err := t.sub.Next(ctx)
		if err != nil {
			return "", nil, err
		}
		from := m.GetFrom()
		if from == t.self || from == "" {
			continue // our own, or no origin (StrictSign drops those)
		}
		return dsn.PeerID(from), m.GetData(), nil
	}
}

// Peers returns the peers known to subscribe to the topic.
func (t *Topic) Peers() []dsn.PeerID {
	ps := t.t.ListPeers()
	out := make([]dsn.PeerID, len(ps))
	for i, p := range ps {
		out[i] = dsn.PeerID(p)
	}
	return out
}

// Close leaves the topic.
func (t *Topic) Close() error {
	t.sub.Cancel()
	return t.t.Close()
}

// PublicKey returns the Ed25519 public key a peer ID embeds: every dsn
// node's ID is derived from its Ed25519 identity key, which also signs its
// ledger.
func PublicKey(p dsn.PeerID) (ed25519.PublicKey, error) {
	id, err := peer.IDFromBytes([]byte(p))
	if err != nil {
		return nil, fmt.Errorf("peer id %s: %w", p, err)
	}
	pk, err := id.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("peer id %s: no embedded key: %w", p, err)
	}
	if pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("peer id %s: key type %v, want Ed25519", p, pk.Type())
	}
	raw, err := pk.Raw()
	if err != nil {
		return nil, fmt.Errorf("peer id %s: %w", p, err)
	}
	return ed25519.PublicKey(raw), nil
}

// PeerIDOf returns the peer ID of the node whose Ed25519 identity key is
// pub: the inverse of PublicKey.
func PeerIDOf(pub ed25519.PublicKey) (dsn.PeerID, error) {
	pk, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", err
	}
	id, err := peer.IDFromPublicKey(pk)
	if err != nil {
		return "", err
	}
	return dsn.PeerID(id), nil
}
