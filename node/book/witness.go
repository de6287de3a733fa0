package book

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn/internal/atomicfile"
	"github.com/dsn-project/dsn/ledger"
)

// Witness keeps, for every other node, the latest checkpoint it saw from
// it, checks each newer one against it, and keeps evidence when two
// cannot both be true. A node with evidence against it is distrusted.
// State lives in a directory of small files, bounded per node.
type Witness struct {
	dir string

	mu       sync.Mutex
	latest   map[ledger.PublicKey]ledger.Checkpoint
	evidence map[ledger.PublicKey][]Evidence
}

// Evidence is two checkpoints signed by one node that fork its history.
type Evidence struct {
	Node   ledger.PublicKey `json:"-"`
	Older  []byte           `json:"older"`
	Newer  []byte           `json:"newer"`
	Reason string           `json:"reason"`
	Found  time.Time        `json:"found"`
}

// maxEvidence bounds the evidence kept per node: one pair proves the
// fork; a few show it was not a one-off.
const maxEvidence = 8

// OpenWitness opens (creating) the witness state in dir.
func OpenWitness(dir string) (*Witness, error) {
	w := &Witness{dir: dir, latest: map[ledger.PublicKey]ledger.Checkpoint{}, evidence: map[ledger.PublicKey][]Evidence{}}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	for _, n := range names {
		path := filepath.Join(dir, n.Name())
		switch filepath.Ext(n.Name()) {
		case ".note":
			b, err := atomicfile.ReadBounded(path, ledger.MaxCheckpointSize)
			if err != nil {
				return nil, fmt.Errorf("witness: %w", err)
			}
			c, err := ledger.ParseCheckpoint(b)
			if err != nil {
				// A damaged file is dropped: the next checkpoint the
				// node publishes takes its place.
				os.Remove(path)
				continue
			}
			w.latest[c.Node] = c
		case ".evidence":
			b, err := atomicfile.ReadBounded(path, 8<<10)
			if err != nil {
				return nil, fmt.Errorf("witness: %w", err)
			}
			ev, err := decodeEvidence(b)
			if err != nil {
				return nil, fmt.Errorf("witness: %s: %w", path, err)
			}
			if len(ev) > 0 {
				w.evidence[ev[0].Node] = ev
			}
		}
	}
	return w, nil
}

// decodeEvidence reads a node's evidence file: at most maxEvidence pairs
// of checkpoints, all signed by one node.
func decodeEvidence(b []byte) ([]Evidence, error) {
	var ev []Evidence
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, err
	}
	if len(ev) > maxEvidence {
		return nil, fmt.Errorf("%d pieces of evidence, at most %d", len(ev), maxEvidence)
	}
	for i := range ev {
		a, err := ledger.ParseCheckpoint(ev[i].Older)
		if err != nil {
			return nil, err
		}
		if _, err := ledger.VerifyCheckpoint(ev[i].Newer, a.Node); err != nil {
			return nil, err
		}
		if i > 0 && a.Node != ev[0].Node {
			return nil, errors.New("evidence against two nodes in one file")
		}
		ev[i].Node = a.Node
	}
	return ev, nil
}

// Prover fetches, from the node that published them, the proof that its
// log at newSize extends its log at oldSize.
type Prover func(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error)

// Observe checks a checkpoint note said to come from node. It returns
// ledger.ErrFork (wrapped) when the note and the latest checkpoint kept
// for node cannot both be true, after keeping both as evidence; another
// error when the note is not a valid checkpoint of node or the proof
// could not be had (nothing is concluded then).
func (w *Witness) Observe(ctx context.Context, node ledger.PublicKey, note []byte, prove Prover) error {
	c, err := ledger.VerifyCheckpoint(note, node)
	if err != nil {
		return err
	}
	w.mu.Lock()
	old, seen := w.latest[node]
	w.mu.Unlock()
	if !seen {
		return w.keep(c)
	}
	older, newer := old, c
	if c.Size < old.Size {
		older, newer = c, old
	}
	var proof tlog.TreeProof
	if older.Size != newer.Size && older.Size > 0 {
		if proof, err = prove(ctx, older.Size, newer.Size); err != nil {
			return fmt.Errorf("witness: consistency proof %d..%d from %s: %w", older.Size, newer.Size, node.Short(), err)
		}
	}
	if err := ledger.CheckConsistency(older, newer, proof); err != nil {
		if errors.Is(err, ledger.ErrFork) {
			if kerr := w.keepEvidence(Evidence{Node: node, Older: older.Note, Newer: newer.Note, Reason: err.Error(), Found: time.Now().UTC()}); kerr != nil {
				return errors.Join(err, kerr)
			}
		}
		return err
	}
	if c.Size > old.Size {
		return w.keep(c)
	}
	return nil
}

func (w *Witness) keep(c ledger.Checkpoint) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := atomicfile.Write(filepath.Join(w.dir, c.Node.String()+".note"), c.Note, 0o600); err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	w.latest[c.Node] = c
	return nil
}

func (w *Witness) keepEvidence(e Evidence) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := w.evidence[e.Node]
	if len(ev) >= maxEvidence {
		return nil
	}
	ev = append(ev, e)
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(w.dir, e.Node.String()+".evidence"), b, 0o600); err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	w.evidence[e.Node] = ev
	return nil
}

// Latest returns the latest checkpoint kept for node.
func (w *Witness) Latest(node ledger.PublicKey) (ledger.Checkpoint, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.latest[node]
	return c, ok
}

// Distrusted returns the nodes with evidence against them, with it, in
// key order.
func (w *Witness) Distrusted() []Evidence {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Evidence
	for _, ev := range w.evidence {
		out = append(out, ev[0])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node.String() < out[j].Node.String() })
	return out
}

// Trusted reports whether no evidence is kept against node.
func (w *Witness) Trusted(node ledger.PublicKey) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.evidence[node]) == 0
}

// Known is the number of nodes with a checkpoint kept.
func (w *Witness) Known() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.latest)
}
