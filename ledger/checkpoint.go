package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Bounds on what other nodes send.
const (
	// MaxCheckpointSize bounds a signed checkpoint note; a valid one is
	// about 300 bytes.
	MaxCheckpointSize = 1 << 10
	// MaxProofHashes bounds the hashes of an inclusion or consistency
	// proof: a tree of 2^63 entries needs fewer.
	MaxProofHashes = 128
)

// originPrefix starts the first line of every checkpoint. The version in
// it is the checkpoint format's: another format gets another line, as
// tlog.FormatTree's documentation asks.
const originPrefix = "dsn ledger v1 "

// Checkpoint is a node's signed statement of its log's size and root
// hash. Values come from Log.Checkpoint or ParseCheckpoint, which check
// the signature.
type Checkpoint struct {
	Node PublicKey
	Size int64
	Hash tlog.Hash
	// Note is the signed note as published.
	Note []byte
}

// noteName is the note signer name of a node: fixed by its key, so a
// checkpoint names its signer without a directory of names.
func noteName(p PublicKey) string { return "dsn-ledger-" + p.String() }

func checkpointText(node PublicKey, size int64, h tlog.Hash) string {
	return fmt.Sprintf("%s%s\n%d\n%s\n", originPrefix, node, size, base64.StdEncoding.EncodeToString(h[:]))
}

// noteSigner builds a sumdb/note signer from an Ed25519 key: the note
// package takes keys as strings, so the node's key is written in its
// format (algorithm byte 1, then the 32-byte seed).
func noteSigner(key ed25519.PrivateKey) (note.Signer, error) {
	pub := PublicKeyOf(key)
	vkey, err := note.NewEd25519VerifierKey(noteName(pub), pub[:])
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", noteName(pub), v.KeyHash(),
		base64.StdEncoding.EncodeToString(append([]byte{1}, key.Seed()...)))
	return note.NewSigner(skey)
}

func noteVerifier(node PublicKey) (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(noteName(node), node[:])
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vkey)
}

// ParseCheckpoint parses a signed checkpoint and checks that the node
// its first line names signed it. It does not say whether that node is
// the one the caller expects: compare Node, or use VerifyCheckpoint.
// Parsing is strict: exactly the three lines Log.Checkpoint writes, in
// canonical form, and exactly one signature.
func ParseCheckpoint(msg []byte) (Checkpoint, error) {
	if len(msg) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("parse checkpoint: %d bytes, at most %d: %w", len(msg), MaxCheckpointSize, ErrTooLarge)
	}
	bad := func(format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("parse checkpoint: %w: "+format, append([]any{ErrCheckpoint}, args...)...)
	}
	origin, _, ok := strings.Cut(string(msg), "\n")
	hexKey, found := strings.CutPrefix(origin, originPrefix)
	if !ok || !found || len(hexKey) != 2*len(PublicKey{}) {
		return bad("first line is not %q followed by a node key", originPrefix)
	}
	var node PublicKey
	if _, err := hex.Decode(node[:], []byte(hexKey)); err != nil || hex.EncodeToString(node[:]) != hexKey {
		return bad("node key %q is not lower-case hex", hexKey)
	}
	v, err := noteVerifier(node)
	if err != nil {
		return bad("node key: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return bad("not signed by node %s", node.Short())
		}
		return bad("%v", err)
	}
	if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
		return bad("%d signatures, want the node's only", len(n.Sigs)+len(n.UnverifiedSigs))
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return bad("%d lines, want 3", len(lines)-1)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return bad("size %q", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize || base64.StdEncoding.EncodeToString(raw) != lines[2] {
		return bad("hash %q", lines[2])
	}
	var h tlog.Hash
	copy(h[:], raw)
	return Checkpoint{Node: node, Size: size, Hash: h, Note: bytes.Clone(msg)}, nil
}

// VerifyCheckpoint is ParseCheckpoint for a checkpoint that must come
// from node.
func VerifyCheckpoint(msg []byte, node PublicKey) (Checkpoint, error) {
	c, err := ParseCheckpoint(msg)
	if err != nil {
		return c, err
	}
	if c.Node != node {
		return Checkpoint{}, fmt.Errorf("verify checkpoint: %w: signed by %s, want %s", ErrCheckpoint, c.Node.Short(), node.Short())
	}
	return c, nil
}

// Checkpoint signs the log's current size and root hash with the
// owner's key, records it in the log's published history, and returns
// it. Before signing it checks that the tree still extends the last
// checkpoint it published, so a store rewritten behind the node's back
// is reported (ErrFork) rather than signed.
func (l *Log) Checkpoint() (Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkpoint()
}

func (l *Log) checkpoint() (Checkpoint, error) {
	if l.closed {
		return Checkpoint{}, ErrClosed
	}
	h, err := l.rootHash(l.size)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	if l.last.Size >= 0 {
		if err := l.consistentWithLast(l.size, h); err != nil {
			return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
		}
		if l.last.Size == l.size {
			return l.last, nil
		}
	}
	s, err := noteSigner(l.key)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	msg, err := note.Sign(&note.Note{Text: checkpointText(l.owner, l.size, h)}, s)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	if err := l.db.Set(u64Key(keyCheckpoint, l.nextSeq), msg, pebble.Sync); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	l.nextSeq++
	l.last = Checkpoint{Node: l.owner, Size: l.size, Hash: h, Note: msg}
	return l.last, nil
}

// consistentWithLast checks the tree of size n and hash h against the
// last published checkpoint, from the stored hashes.
func (l *Log) consistentWithLast(n int64, h tlog.Hash) error {
	old := l.last
	if old.Size > n {
		return fmt.Errorf("%w: published size %d, log has %d", ErrFork, old.Size, n)
	}
	oldHash, err := l.rootHash(old.Size)
	if err != nil {
		return err
	}
	if oldHash != old.Hash {
		return fmt.Errorf("%w: the first %d entries no longer hash to the published checkpoint", ErrFork, old.Size)
	}
	return nil
}

// Checkpoints returns every checkpoint the log has published, oldest
// first.
func (l *Log) Checkpoints() ([]Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	var out []Checkpoint
	err := forCheckpoints(l.db, l.owner, func(c Checkpoint) error {
		out = append(out, c)
		return nil
	})
	return out, err
}

func forCheckpoints(r reader, owner PublicKey, f func(Checkpoint) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte{keyCheckpoint}, UpperBound: []byte{keyCheckpoint + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		c, err := VerifyCheckpoint(it.Value(), owner)
		if err != nil {
			return fmt.Errorf("published checkpoint %x: %w", it.Key()[1:], err)
		}
		if err := f(c); err != nil {
			return err
		}
	}
	return it.Close()
}

// ProveConsistency returns the proof that the log's tree of size newSize
// extends its tree of size oldSize.
func (l *Log) ProveConsistency(oldSize, newSize int64) (tlog.TreeProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if oldSize < 0 || oldSize > newSize || newSize > l.size {
		return nil, fmt.Errorf("prove consistency %d..%d of a log of %d: %w", oldSize, newSize, l.size, ErrNotFound)
	}
	if oldSize == 0 {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(newSize, oldSize, l.hashes())
	if err != nil {
		return nil, fmt.Errorf("prove consistency %d..%d: %w", oldSize, newSize, err)
	}
	return p, nil
}

// CheckConsistency checks that checkpoint newer extends older, two
// checkpoints of one node, with the proof from Log.ProveConsistency.
// Any failure means the node has published two histories: ErrFork.
func CheckConsistency(older, newer Checkpoint, proof tlog.TreeProof) error {
	switch {
	case older.Node != newer.Node:
		return fmt.Errorf("check consistency: %w: checkpoints of %s and %s", ErrCheckpoint, older.Node.Short(), newer.Node.Short())
	case older.Size > newer.Size:
		return fmt.Errorf("check consistency: %w: older checkpoint has %d entries, newer %d", ErrCheckpoint, older.Size, newer.Size)
	case len(proof) > MaxProofHashes:
		return fmt.Errorf("check consistency: %d proof hashes: %w", len(proof), ErrTooLarge)
	case older.Size == newer.Size:
		if older.Hash != newer.Hash {
			return fmt.Errorf("check consistency: %w: two hashes for size %d", ErrFork, older.Size)
		}
		return nil
	case older.Size == 0:
		empty, _ := tlog.TreeHash(0, nil)
		if older.Hash != empty {
			return fmt.Errorf("check consistency: %w: wrong hash for the empty log", ErrFork)
		}
		return nil
	}
	if err := tlog.CheckTree(proof, newer.Size, newer.Hash, older.Size, older.Hash); err != nil {
		return fmt.Errorf("check consistency %d..%d: %w: %v", older.Size, newer.Size, ErrFork, err)
	}
	return nil
}

// InclusionProof is what another node needs to check that an entry is in
// a node's log: the entry, its index, the signed checkpoint it is proved
// against, and the Merkle path.
type InclusionProof struct {
	Index      int64
	Entry      []byte
	Checkpoint []byte
	Proof      tlog.RecordProof
}

// ProveInclusion returns the proof that entry i is in the log, against
// the latest published checkpoint, publishing a new one if none covers i.
func (l *Log) ProveInclusion(i int64) (*InclusionProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if i < 0 || i >= l.size {
		return nil, fmt.Errorf("prove entry %d of %d: %w", i, l.size, ErrNotFound)
	}
	cp := l.last
	if cp.Size <= i {
		var err error
		if cp, err = l.checkpoint(); err != nil {
			return nil, fmt.Errorf("prove entry %d: %w", i, err)
		}
	}
	e, err := get(l.db, u64Key(keyEntry, uint64(i)))
	if err != nil || e == nil {
		return nil, fmt.Errorf("prove entry %d: %w", i, errors.Join(ErrMissing, err))
	}
	p, err := tlog.ProveRecord(cp.Size, i, l.hashes())
	if err != nil {
		return nil, fmt.Errorf("prove entry %d: %w", i, err)
	}
	return &InclusionProof{Index: i, Entry: e, Checkpoint: cp.Note, Proof: p}, nil
}

// CheckInclusion checks p on behalf of another node: the checkpoint is
// signed by node, the entry decodes and carries valid signatures, and
// the path leads from the entry's hash to the checkpoint's root.
func CheckInclusion(p *InclusionProof, node PublicKey) (Entry, Checkpoint, error) {
	cp, err := VerifyCheckpoint(p.Checkpoint, node)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("check inclusion: %w", err)
	}
	if len(p.Proof) > MaxProofHashes {
		return nil, Checkpoint{}, fmt.Errorf("check inclusion: %d proof hashes: %w", len(p.Proof), ErrTooLarge)
	}
	e, err := DecodeEntry(p.Entry)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("check inclusion: %w", err)
	}
	if err := CheckSignatures(e); err != nil {
		return nil, Checkpoint{}, fmt.Errorf("check inclusion: %w", err)
	}
	if p.Index < 0 || p.Index >= cp.Size {
		return nil, Checkpoint{}, fmt.Errorf("check inclusion: %w: index %d outside a checkpoint of %d", ErrProof, p.Index, cp.Size)
	}
	if err := tlog.CheckRecord(p.Proof, cp.Size, cp.Hash, p.Index, tlog.RecordHash(p.Entry)); err != nil {
		return nil, Checkpoint{}, fmt.Errorf("check inclusion of %d: %w: %v", p.Index, ErrProof, err)
	}
	return e, cp, nil
}

// proofVersion starts an encoded InclusionProof.
const proofVersion = 1

// MarshalBinary encodes p: a version byte, uvarint index, then the
// entry and the checkpoint each as uvarint length and bytes, then a
// uvarint count of 32-byte hashes.
func (p *InclusionProof) MarshalBinary() ([]byte, error) {
	if p.Index < 0 || len(p.Entry) > MaxEntrySize || len(p.Checkpoint) > MaxCheckpointSize || len(p.Proof) > MaxProofHashes {
		return nil, fmt.Errorf("encode inclusion proof: %w: field out of bounds", ErrMalformed)
	}
	b := []byte{proofVersion}
	b = binary.AppendUvarint(b, uint64(p.Index))
	b = binary.AppendUvarint(b, uint64(len(p.Entry)))
	b = append(b, p.Entry...)
	b = binary.AppendUvarint(b, uint64(len(p.Checkpoint)))
	b = append(b, p.Checkpoint...)
	return appendHashes(b, p.Proof), nil
}

// MaxInclusionProofSize bounds an encoded InclusionProof.
const MaxInclusionProofSize = 1 + 10 + 2 + MaxEntrySize + 2 + MaxCheckpointSize + 2 + MaxProofHashes*tlog.HashSize

// UnmarshalBinary decodes the strict form MarshalBinary writes. It does
// not check the proof: CheckInclusion does.
func (p *InclusionProof) UnmarshalBinary(b []byte) error {
	if len(b) > MaxInclusionProofSize {
		return fmt.Errorf("decode inclusion proof: %d bytes: %w", len(b), ErrTooLarge)
	}
	if len(b) == 0 || b[0] != proofVersion {
		return fmt.Errorf("decode inclusion proof: %w", ErrVersion)
	}
	d := &decoder{b: b[1:]}
	idx := d.u("index")
	if idx > 1<<62 {
		d.fail("index %d", idx)
	}
	entry := d.bytes(MaxEntrySize, "entry")
	cp := d.bytes(MaxCheckpointSize, "checkpoint")
	hs := d.hashes()
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("decode inclusion proof: %w", d.err)
	}
	*p = InclusionProof{Index: int64(idx), Entry: bytes.Clone(entry), Checkpoint: bytes.Clone(cp), Proof: tlog.RecordProof(hs)}
	return nil
}

// EncodeTreeProof encodes a consistency proof: a uvarint count, then the
// 32-byte hashes.
func EncodeTreeProof(p tlog.TreeProof) ([]byte, error) {
	if len(p) > MaxProofHashes {
		return nil, fmt.Errorf("encode tree proof: %d hashes: %w", len(p), ErrTooLarge)
	}
	return appendHashes(nil, p), nil
}

// DecodeTreeProof decodes EncodeTreeProof's form, strictly.
func DecodeTreeProof(b []byte) (tlog.TreeProof, error) {
	if len(b) > 2+MaxProofHashes*tlog.HashSize {
		return nil, fmt.Errorf("decode tree proof: %d bytes: %w", len(b), ErrTooLarge)
	}
	d := &decoder{b: b}
	hs := d.hashes()
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode tree proof: %w", d.err)
	}
	return tlog.TreeProof(hs), nil
}

func appendHashes(b []byte, hs []tlog.Hash) []byte {
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

func (d *decoder) bytes(limit int, what string) []byte {
	n := d.u(what + " length")
	if d.err == nil && n > uint64(limit) {
		d.fail("%s of %d bytes, at most %d", what, n, limit)
	}
	return d.take(int(n), what)
}

func (d *decoder) hashes() []tlog.Hash {
	n := d.u("hash count")
	if d.err == nil && n > MaxProofHashes {
		d.fail("%d hashes, at most %d", n, MaxProofHashes)
	}
	if d.err != nil {
		return nil
	}
	hs := make([]tlog.Hash, n)
	for i := range hs {
		d.fixed(hs[i][:], "hash")
	}
	return hs
}
