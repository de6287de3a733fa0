package auditproto

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/inproc"
	"github.com/dsn-project/dsn/proofs/compact"
	"github.com/dsn-project/dsn/proofs/merkle"
)

// cheatFixture is an auditor facing a cheating provider: a test double
// that speaks the protocol and answers as each test tells it.
type cheatFixture struct {
	net     *inproc.Network
	auditor *inproc.Transport
	cheat   *inproc.Transport
	key     *compact.Key
	a, b    []byte // two shards the cheater knows in full
	aID     dsn.ShardID
	bID     dsn.ShardID
}

func newCheatFixture(t *testing.T) *cheatFixture {
	n := inproc.NewNetwork()
	f := &cheatFixture{net: n, auditor: n.Add("owner"), cheat: n.Add("cheater"), key: ownerKey("owner")}
	f.a, f.aID = shardBytes(1, 100_000)
	f.b, f.bID = shardBytes(2, 100_000)
	return f
}

func (f *cheatFixture) shards() map[dsn.ShardID][]byte {
	return map[dsn.ShardID][]byte{f.aID: f.a, f.bID: f.b}
}

func (f *cheatFixture) merkle(t *testing.T, a Auditor, c int) Result {
	return a.Merkle(testCtx(t), f.auditor, "cheater", f.aID, int64(len(f.a)), epochSeed(1), c)
}

func (f *cheatFixture) compact(t *testing.T, a Auditor, c int) Result {
	ch := challenge(t, epochSeed(1), c, compact.Target{ID: f.aID, Size: int64(len(f.a))})
	return a.Compact(testCtx(t), f.auditor, "cheater", f.key, ch)
}

// TestHonestDouble checks the double itself: answering honestly it
// passes, so the cheats below fail for what they change.
func TestHonestDouble(t *testing.T) {
	f := newCheatFixture(t)
	cheater(f.cheat, func(st dsn.Stream, req request) {
		switch req := req.(type) {
		case merkleRequest:
			answer(st, honestMerkle(t, f.a, req.seed, req.c))
		case compactRequest:
			answer(st, honestCompact(t, f.key, challenge(t, req.seed, req.c, req.targets...), f.shards()))
		}
	})
	if r := f.merkle(t, Auditor{}, 16); r.Outcome != Pass {
		t.Errorf("merkle audit of the honest double = %v (%v), want Pass", r.Outcome, r.Reason)
	}
	if r := f.compact(t, Auditor{}, 16); r.Outcome != Pass {
		t.Errorf("compact audit of the honest double = %v (%v), want Pass", r.Outcome, r.Reason)
	}
}

func TestCheats(t *testing.T) {
	oldSeed := epochSeed(0) // the auditors below challenge with epochSeed(1)
	type cheat struct {
		name   string
		merkle func(f *cheatFixture, st dsn.Stream, req merkleRequest)
		comp   func(f *cheatFixture, st dsn.Stream, req compactRequest)
		reason []error // Fail reasons for merkle, compact
	}
	cheats := []cheat{
		{
			name: "replays an earlier proof",
			merkle: func(f *cheatFixture, st dsn.Stream, req merkleRequest) {
				answer(st, honestMerkle(t, f.a, oldSeed, req.c))
			},
			comp: func(f *cheatFixture, st dsn.Stream, req compactRequest) {
				answer(st, honestCompact(t, f.key, challenge(t, oldSeed, req.c, req.targets...), f.shards()))
			},
			reason: []error{merkle.ErrWrongChallenge, compact.ErrInvalidProof},
		},
		{
			name: "replays an earlier proof relabelled with the new seed",
			merkle: func(f *cheatFixture, st dsn.Stream, req merkleRequest) {
				ob, _ := merkle.BuildOutboard(f.a)
				p, err := merkle.Prove(oldSeed, req.c, f.aID, bytes.NewReader(f.a), int64(len(f.a)), ob)
				if err != nil {
					t.Error(err)
				}
				p.Seed = req.seed
				b, _ := p.MarshalBinary()
				answer(st, b)
			},
			reason: []error{merkle.ErrWrongIndices},
		},
		{
			name: "answers with another shard's proof",
			merkle: func(f *cheatFixture, st dsn.Stream, req merkleRequest) {
				answer(st, honestMerkle(t, f.b, req.seed, req.c))
			},
			comp: func(f *cheatFixture, st dsn.Stream, req compactRequest) {
				ch := challenge(t, req.seed, req.c, compact.Target{ID: f.bID, Size: int64(len(f.b))})
				answer(st, honestCompact(t, f.key, ch, f.shards()))
			},
			reason: []error{merkle.ErrWrongChallenge, compact.ErrInvalidProof},
		},
		{
			name: "proves another shard's bytes under the challenged ID",
			comp: func(f *cheatFixture, st dsn.Stream, req compactRequest) {
				// The b bytes with a's tags: the tags are bound to a's data.
				ch := challenge(t, req.seed, req.c, req.targets...)
				pr := compact.NewProver(ch)
				tags, _ := f.key.Tags(f.aID, f.a)
				if err := pr.Add(0, bytes.NewReader(f.b), bytes.NewReader(tags)); err != nil {
					t.Error(err)
				}
				p, _ := pr.Proof()
				answer(st, p.Encode())
			},
			reason: []error{nil, compact.ErrInvalidProof},
		},
		{
			name: "sends a malformed proof",
			merkle: func(f *cheatFixture, st dsn.Stream, req merkleRequest) {
				answer(st, bytes.Repeat([]byte{0x5a}, 4000))
			},
			comp: func(f *cheatFixture, st dsn.Stream, req compactRequest) {
				answer(st, bytes.Repeat([]byte{0xff}, compact.ProofSize))
			},
			reason: []error{merkle.ErrProofFormat, compact.ErrMalformedProof},
		},
		{
			name: "flips a byte of an honest proof",
			merkle: func(f *cheatFixture, st dsn.Stream, req merkleRequest) {
				b := honestMerkle(t, f.a, req.seed, req.c)
				b[100] ^= 1 // in the first leaf's data
				answer(st, b)
			},
			comp: func(f *cheatFixture, st dsn.Stream, req compactRequest) {
				b := honestCompact(t, f.key, challenge(t, req.seed, req.c, req.targets...), f.shards())
				b[100] ^= 1
				answer(st, b)
			},
			reason: []error{merkle.ErrWrongLeaf, compact.ErrInvalidProof},
		},
		{
			name: "announces a short compact proof",
			comp: func(f *cheatFixture, st dsn.Stream, req compactRequest) {
				answer(st, make([]byte, 32))
			},
			reason: []error{nil, ErrMalformed},
		},
		{
			name: "announces more proof bytes than the bound",
			merkle: func(f *cheatFixture, st dsn.Stream, req merkleRequest) {
				_ = writeFrame(st, reply{code: CodeOK, length: 1 << 40})
				drain(st)
			},
			comp: func(f *cheatFixture, st dsn.Stream, req compactRequest) {
				_ = writeFrame(st, reply{code: CodeOK, length: compact.ProofSize + 1})
				drain(st)
			},
			reason: []error{ErrProofTooLarge, ErrProofTooLarge},
		},
		{
			name: "ends the stream inside the proof",
			merkle: func(f *cheatFixture, st dsn.Stream, req merkleRequest) {
				b := honestMerkle(t, f.a, req.seed, req.c)
				_ = writeFrame(st, reply{code: CodeOK, length: int64(len(b))})
				_, _ = st.Write(b[:len(b)-10])
				_ = st.Close()
			},
			reason: []error{ErrMalformed},
		},
		{
			name: "answers with a code the protocol does not have",
			merkle: func(f *cheatFixture, st dsn.Stream, req merkleRequest) {
				_ = writeFrame(st, reply{code: 77})
				_ = st.Close()
			},
			reason: []error{ErrUnknownCode},
		},
		{
			name: "sends a reply frame that does not decode",
			merkle: func(f *cheatFixture, st dsn.Stream, req merkleRequest) {
				_, _ = st.Write([]byte{3, typeReply, 0x80, 0x00})
				_ = st.Close()
			},
			reason: []error{ErrMalformed},
		},
		{
			name: "claims the shard is corrupt",
			merkle: func(f *cheatFixture, st dsn.Stream, req merkleRequest) {
				_ = writeFrame(st, reply{code: CodeCorrupt, text: "oops"})
				_ = st.Close()
			},
			reason: []error{dsn.ErrCorruptShard},
		},
	}
	for _, ch := range cheats {
		t.Run(ch.name, func(t *testing.T) {
			f := newCheatFixture(t)
			cheater(f.cheat, func(st dsn.Stream, req request) {
				switch req := req.(type) {
				case merkleRequest:
					ch.merkle(f, st, req)
				case compactRequest:
					ch.comp(f, st, req)
				}
			})
			if ch.merkle != nil {
				r := f.merkle(t, Auditor{}, 16)
				if r.Outcome != Fail || !errors.Is(r.Reason, ch.reason[0]) {
					t.Errorf("merkle audit = %v (%v), want Fail with %v", r.Outcome, r.Reason, ch.reason[0])
				}
			}
			if ch.comp != nil {
				r := f.compact(t, Auditor{}, 16)
				if r.Outcome != Fail || !errors.Is(r.Reason, ch.reason[1]) {
					t.Errorf("compact audit = %v (%v), want Fail with %v", r.Outcome, r.Reason, ch.reason[1])
				}
			}
		})
	}
}

// TestOversizedProofStopsReading: a provider that announces a proof within
// the bound and then keeps sending fails, and the auditor reads no more
// than one byte past what was announced: the rest never leaves the
// provider's window.
func TestOversizedProofStopsReading(t *testing.T) {
	f := newCheatFixture(t)
	const extra = 8 << 20
	var mu sync.Mutex
	var written int
	var werr error
	done := make(chan struct{})
	cheater(f.cheat, func(st dsn.Stream, req request) {
		defer close(done)
		r := req.(merkleRequest)
		b := honestMerkle(t, f.a, r.seed, r.c)
		_ = writeFrame(st, reply{code: CodeOK, length: int64(len(b))})
		n, err := st.Write(append(b, make([]byte, extra)...))
		mu.Lock()
		written, werr = n, err
		mu.Unlock()
		_ = st.Reset()
	})
	r := f.merkle(t, Auditor{}, 16)
	if r.Outcome != Fail || !errors.Is(r.Reason, ErrProofTooLarge) {
		t.Errorf("merkle audit = %v (%v), want Fail with ErrProofTooLarge", r.Outcome, r.Reason)
	}
	<-done
	mu.Lock()
	defer mu.Unlock()
	if werr == nil || written >= extra {
		t.Errorf("cheater's write of a proof and %d more bytes = %d, %v; want it cut off by the auditor", extra, written, werr)
	}
	if r.ProofBytes > merkle.MaxProofSize(16) {
		t.Errorf("ProofBytes = %d, over the bound %d", r.ProofBytes, merkle.MaxProofSize(16))
	}
}

// TestLateProofMissed: a valid proof sent after the deadline is Missed,
// both when it has not arrived by then (the stream deadline) and when it
// arrives in full but late (the clock).
func TestLateProofMissed(t *testing.T) {
	t.Run("held back past the stream deadline", func(t *testing.T) {
		f := newCheatFixture(t)
		release := make(chan struct{})
		sent := make(chan error, 1)
		cheater(f.cheat, func(st dsn.Stream, req request) {
			r := req.(merkleRequest)
			b := honestMerkle(t, f.a, r.seed, r.c)
			<-release
			err := writeFrame(st, reply{code: CodeOK, length: int64(len(b))})
			sent <- err
			_ = st.Reset()
		})
		quick := Auditor{Budget: Budget{Base: 50 * time.Millisecond, PerRead: time.Nanosecond, ReadRate: 1 << 40, NetRate: 1 << 40}}
		r := f.merkle(t, quick, 16)
		close(release)
		if r.Outcome != Missed || !errors.Is(r.Reason, ErrNoAnswer) {
			t.Errorf("merkle audit = %v (%v), want Missed with ErrNoAnswer", r.Outcome, r.Reason)
		}
		if err := <-sent; err == nil {
			t.Error("the late answer was written to a stream the auditor should have abandoned")
		}
	})
	t.Run("arrives in full after the deadline", func(t *testing.T) {
		f := newCheatFixture(t)
		cheater(f.cheat, func(st dsn.Stream, req request) {
			switch req := req.(type) {
			case merkleRequest:
				answer(st, honestMerkle(t, f.a, req.seed, req.c))
			case compactRequest:
				answer(st, honestCompact(t, f.key, challenge(t, req.seed, req.c, req.targets...), f.shards()))
			}
		})
		// Each reading of the clock is an hour after the last.
		var mu sync.Mutex
		clock := time.Unix(0, 0)
		slow := Auditor{Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(time.Hour)
			return clock
		}}
		if r := f.merkle(t, slow, 16); r.Outcome != Missed || !errors.Is(r.Reason, ErrLate) || r.ProofBytes == 0 {
			t.Errorf("merkle audit = %v (%v), %d bytes; want Missed with ErrLate after reading the proof", r.Outcome, r.Reason, r.ProofBytes)
		}
		if r := f.compact(t, slow, 16); r.Outcome != Missed || !errors.Is(r.Reason, ErrLate) {
			t.Errorf("compact audit = %v (%v), want Missed with ErrLate", r.Outcome, r.Reason)
		}
	})
}

func TestNoAnswerMissed(t *testing.T) {
	tests := []struct {
		name string
		do   func(st dsn.Stream)
		want error
	}{
		{"resets", func(st dsn.Stream) { _ = st.Reset() }, ErrNoAnswer},
		{"closes without a reply", func(st dsn.Stream) { _ = st.Close() }, ErrNoAnswer},
		{"resets inside the proof", func(st dsn.Stream) {
			_ = writeFrame(st, reply{code: CodeOK, length: 1000})
			_, _ = st.Write(make([]byte, 10))
			_ = st.Reset()
		}, ErrNoAnswer},
		{"busy", func(st dsn.Stream) { _ = writeFrame(st, reply{code: CodeBusy}); _ = st.Close() }, ErrBusy},
		{"unavailable", func(st dsn.Stream) { _ = writeFrame(st, reply{code: CodeUnavailable}); _ = st.Close() }, ErrUnavailable},
		{"timed out", func(st dsn.Stream) { _ = writeFrame(st, reply{code: CodeTimeout}); _ = st.Close() }, ErrRemoteTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newCheatFixture(t)
			cheater(f.cheat, func(st dsn.Stream, _ request) { tc.do(st) })
			if r := f.merkle(t, Auditor{}, 16); r.Outcome != Missed || !errors.Is(r.Reason, tc.want) {
				t.Errorf("merkle audit = %v (%v), want Missed with %v", r.Outcome, r.Reason, tc.want)
			}
		})
	}
}

// TestCallerCancelAborts: the auditor's own ctx ending says nothing about
// the provider.
func TestCallerCancelAborts(t *testing.T) {
	f := newCheatFixture(t)
	got := make(chan struct{})
	cheater(f.cheat, func(st dsn.Stream, _ request) {
		close(got) // and never answer
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-got; cancel() }()
	r := Auditor{}.Merkle(ctx, f.auditor, "cheater", f.aID, int64(len(f.a)), epochSeed(1), 4)
	if r.Outcome != Aborted || !errors.Is(r.Reason, context.Canceled) {
		t.Errorf("merkle audit with a cancelled ctx = %v (%v), want Aborted with context.Canceled", r.Outcome, r.Reason)
	}
}
