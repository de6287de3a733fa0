package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn/internal/pebblelog"
)

// verifyChunk is how many entries Verify reads before checking their
// signatures together (in parallel, or by a batch verifier).
const verifyChunk = 512

// scratchDir is where Verify rebuilds the rule indexes, inside the log's
// directory (pebble ignores directories it did not create).
const scratchDir = "verify-scratch"

// VerifySummary says what Verify checked.
type VerifySummary struct {
	Entries     int64
	Checkpoints int64
}

// Verify re-reads the whole log as of the call and checks it as a
// stranger would: every entry decodes, carries valid signatures by the
// right parties and obeys every rule against the entries before it; the
// tree hashes recomputed from the entries equal the stored ones; and
// every checkpoint the log has published is signed by the owner and
// equals the recomputed tree at its size. The rule indexes are rebuilt
// in a scratch store, never trusted. On the first problem it returns a
// *VerifyError naming the index: ErrAltered, ErrMissing, ErrExtra, or
// ErrFork when entries and hashes agree with each other but not with a
// published checkpoint (the history below it was rewritten; Index is
// then the size of the last checkpoint that still matched).
//
// Memory stays constant in the log's size: entries are streamed, the
// tree needs one hash per level, and the rule indexes live on disk.
func (l *Log) Verify(ctx context.Context) (VerifySummary, error) {
	l.verifyMu.Lock()
	defer l.verifyMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return VerifySummary{}, ErrClosed
	}
	snap := l.db.NewSnapshot()
	l.mu.Unlock()
	defer snap.Close()

	scratchPath := filepath.Join(l.dir, scratchDir)
	if err := l.fs.RemoveAll(scratchPath); err != nil {
		return VerifySummary{}, fmt.Errorf("verify: %w", err)
	}
	scratch, err := pebble.Open(scratchPath, &pebble.Options{
		FS: l.fs, DisableWAL: true, Logger: pebblelog.New(l.log, "ledger-verify"),
	})
	if err != nil {
		return VerifySummary{}, fmt.Errorf("verify: scratch store: %w", err)
	}
	defer func() {
		scratch.Close()
		l.fs.RemoveAll(scratchPath)
	}()

	v := &verifier{ctx: ctx, owner: l.owner, snap: snap, scratch: scratch, edge: newEdge()}
	sum, err := v.run()
	if err != nil {
		var ve *VerifyError
		if !errors.As(err, &ve) {
			err = fmt.Errorf("verify: %w", err)
		}
	}
	return sum, err
}

type verifier struct {
	ctx     context.Context
	owner   PublicKey
	snap    reader
	scratch *pebble.DB
	edge    edge

	size   int64
	cps    *pebble.Iterator
	cp     *Checkpoint // next published checkpoint to reach, nil when done
	goodAt int64       // size of the last checkpoint that matched
	sum    VerifySummary
}

type pending struct {
	idx int64
	enc []byte
	e   Entry
	err error
	sig int // index of its first signature item
}

func (v *verifier) run() (VerifySummary, error) {
	var err error
	if v.size, err = readSize(v.snap); err != nil {
		return v.sum, err
	}
	if v.cps, err = v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{keyCheckpoint}, UpperBound: []byte{keyCheckpoint + 1}}); err != nil {
		return v.sum, err
	}
	defer v.cps.Close()
	v.cps.First()
	if err := v.nextCheckpoint(); err != nil {
		return v.sum, err
	}
	ents, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{keyEntry}, UpperBound: []byte{keyEntry + 1}})
	if err != nil {
		return v.sum, err
	}
	defer ents.Close()
	hashes, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{keyHash}, UpperBound: []byte{keyHash + 1}})
	if err != nil {
		return v.sum, err
	}
	defer hashes.Close()
	ents.First()
	hashes.First()

	chunk := make([]pending, 0, verifyChunk)
	var items []sigItem
	i := int64(0)
	for i < v.size {
		if err := v.ctx.Err(); err != nil {
			return v.sum, err
		}
		chunk, items = chunk[:0], items[:0]
		for len(chunk) < verifyChunk && i+int64(len(chunk)) < v.size && ents.Valid() {
			want := i + int64(len(chunk))
			if k := ents.Key(); len(k) != 9 || int64(binary.BigEndian.Uint64(k[1:])) != want {
				break // a gap: reported when i reaches want
			}
			p := pending{idx: want, enc: bytes.Clone(ents.Value()), sig: len(items)}
			if p.e, p.err = DecodeEntry(p.enc); p.err == nil {
				items = append(items, p.e.sigs(p.enc[:len(p.enc)-sigBytes(p.e)])...)
			}
			chunk = append(chunk, p)
			ents.Next()
		}
		if len(chunk) == 0 {
			return v.sum, &VerifyError{Index: i, Problem: ErrMissing}
		}
		oks := verifySigs(items)
		b := v.scratch.NewIndexedBatch()
		r := rules{owner: v.owner, s: b}
		for _, p := range chunk {
			if err := v.checkpointsAt(p.idx); err != nil {
				b.Close()
				return v.sum, err
			}
			if err := v.entry(&r, b, hashes, p, oks); err != nil {
				b.Close()
				return v.sum, err
			}
			v.sum.Entries++
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return v.sum, err
		}
		i += int64(len(chunk))
	}
	if err := v.checkpointsAt(v.size); err != nil {
		return v.sum, err
	}
	if v.cp != nil {
		return v.sum, &VerifyError{Index: v.size, Problem: ErrMissing,
			Err: fmt.Errorf("a published checkpoint covers %d entries, the log has %d", v.cp.Size, v.size)}
	}
	if ents.Valid() {
		idx := int64(-1)
		if k := ents.Key(); len(k) == 9 {
			idx = int64(binary.BigEndian.Uint64(k[1:]))
		}
		return v.sum, &VerifyError{Index: idx, Problem: ErrExtra}
	}
	if hashes.Valid() {
		return v.sum, &VerifyError{Index: v.size, Problem: ErrExtra, Err: fmt.Errorf("stored hash %x beyond the tree", hashes.Key()[1:])}
	}
	return v.sum, nil
}

// entry checks one entry and its stored hashes.
func (v *verifier) entry(r *rules, b *pebble.Batch, hashes *pebble.Iterator, p pending, oks []bool) error {
	bad := func(err error) error { return &VerifyError{Index: p.idx, Problem: ErrAltered, Err: err} }
	if p.err != nil {
		return bad(p.err)
	}
	for j, it := range p.e.sigs(nil) {
		if !oks[p.sig+j] {
			return bad(fmt.Errorf("%w: %s signature of %s %s", ErrBadSignature, p.e.Kind(), it.who, it.pub.Short()))
		}
	}
	if err := r.party(p.e); err != nil {
		return bad(err)
	}
	if err := r.apply(p.e, p.idx); err != nil {
		return bad(err)
	}
	if p.e.Kind() == KindDeal {
		// The rules read deals back by index.
		if err := b.Set(u64Key(keyEntry, uint64(p.idx)), p.enc, nil); err != nil {
			return err
		}
	}
	hs, err := tlog.StoredHashes(p.idx, p.enc, v.edge.reader(noHashes{}))
	if err != nil {
		return err
	}
	start := tlog.StoredHashIndex(0, p.idx)
	for j, h := range hs {
		want := u64Key(keyHash, uint64(start+int64(j)))
		if !hashes.Valid() || !bytes.Equal(hashes.Key(), want) {
			return bad(fmt.Errorf("stored hash %d missing", start+int64(j)))
		}
		if !bytes.Equal(hashes.Value(), h[:]) {
			return bad(fmt.Errorf("stored hash %d differs from the hash of the entries", start+int64(j)))
		}
		hashes.Next()
	}
	v.edge.put(start, hs)
	return nil
}

// checkpointsAt checks every published checkpoint of size n; the tree
// covers exactly n entries.
func (v *verifier) checkpointsAt(n int64) error {
	for v.cp != nil && v.cp.Size == n {
		h, err := tlog.TreeHash(n, v.edge.reader(noHashes{}))
		if err != nil {
			return err
		}
		if h != v.cp.Hash {
			return &VerifyError{Index: v.goodAt, Problem: ErrFork,
				Err: fmt.Errorf("published checkpoint of size %d does not match the entries; history from index %d on was rewritten", n, v.goodAt)}
		}
		v.goodAt = n
		v.sum.Checkpoints++
		v.cps.Next()
		if err := v.nextCheckpoint(); err != nil {
			return err
		}
	}
	return nil
}

// nextCheckpoint loads the checkpoint at the iterator, checking its
// signature and that sizes never go down.
func (v *verifier) nextCheckpoint() error {
	prev := v.goodAt
	v.cp = nil
	if !v.cps.Valid() {
		return nil
	}
	c, err := VerifyCheckpoint(v.cps.Value(), v.owner)
	if err != nil {
		return &VerifyError{Index: prev, Problem: ErrFork, Err: fmt.Errorf("published checkpoint %x: %w", v.cps.Key()[1:], err)}
	}
	if c.Size < prev {
		return &VerifyError{Index: c.Size, Problem: ErrFork, Err: fmt.Errorf("published checkpoint of size %d after one of %d", c.Size, prev)}
	}
	v.cp = &c
	return nil
}

// noHashes is the fallback of Verify's edge, which walks the tree from
// the first entry and so always holds the hashes it needs.
type noHashes struct{}

func (noHashes) Get([]byte) ([]byte, io.Closer, error) {
	return nil, nil, errors.New("ledger: verify needed a hash off the tree's edge")
}

func (noHashes) NewIter(*pebble.IterOptions) (*pebble.Iterator, error) {
	return nil, errors.New("ledger: verify needed a hash off the tree's edge")
}
