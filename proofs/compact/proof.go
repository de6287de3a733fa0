package compact

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
)

// ProofVersion is the first byte of an encoded proof.
const ProofVersion = 1

// ProofSize is the length of an encoded proof, whatever it covers: a version
// byte, sigma, then mu_1..mu_s, each a canonical 32-byte scalar.
const ProofSize = 1 + (Sectors+1)*ScalarSize

var (
	// ErrMalformedProof is returned by DecodeProof when the bytes are not an
	// encoded proof: wrong length, unknown version, or a scalar that is not
	// canonical.
	ErrMalformedProof = errors.New("malformed compact proof")
	// ErrInvalidProof is returned by Key.Verify when a well-formed proof does
	// not answer the challenge under the key: the provider does not hold
	// the challenged data and tags, or answered another challenge.
	ErrInvalidProof = errors.New("compact proof does not verify")
	// ErrShardData is returned by Prover.Add when the shard bytes or the tag
	// file cannot supply a challenged block or its tag.
	ErrShardData = errors.New("cannot read challenged block")
)

// Proof answers a Challenge: sigma = sum nu_i*sigma_i and mu_j = sum
// nu_i*m_ij over every challenged block i of every shard covered, so it has
// s+1 scalars however many blocks and shards were challenged.
type Proof struct {
	sigma edwards25519.Scalar
	mu    [Sectors]edwards25519.Scalar
}

// Encode returns the ProofSize-byte encoding of p.
func (p *Proof) Encode() []byte {
	out := make([]byte, 1, ProofSize)
	out[0] = ProofVersion
	out = append(out, p.sigma.Bytes()...)
	for j := range p.mu {
		out = append(out, p.mu[j].Bytes()...)
	}
	return out
}

// DecodeProof parses an encoded proof. Every scalar must be canonical, so
// each proof has exactly one encoding.
func DecodeProof(b []byte) (*Proof, error) {
	if len(b) != ProofSize {
		return nil, fmt.Errorf("decode proof: %d bytes, want %d: %w", len(b), ProofSize, ErrMalformedProof)
	}
	if b[0] != ProofVersion {
		return nil, fmt.Errorf("decode proof: version %d, want %d: %w", b[0], ProofVersion, ErrMalformedProof)
	}
	p := new(Proof)
	if _, err := p.sigma.SetCanonicalBytes(b[1 : 1+ScalarSize]); err != nil {
		return nil, fmt.Errorf("decode proof: sigma is not a canonical scalar: %w", ErrMalformedProof)
	}
	for j := range p.mu {
		off := 1 + ScalarSize*(j+1)
		if _, err := p.mu[j].SetCanonicalBytes(b[off : off+ScalarSize]); err != nil {
			return nil, fmt.Errorf("decode proof: mu_%d is not a canonical scalar: %w", j+1, ErrMalformedProof)
		}
	}
	return p, nil
}

// Prover builds the proof for one challenge, one shard at a time, so a
// provider opens only one shard's files at once. It reads only the
// challenged blocks and their tags, each distinct block once, in ascending
// order.
type Prover struct {
	ch    *Challenge
	mu    [Sectors]muCols
	sigma wide
	added []bool
	left  int
	err   error
	buf   [BlockSize]byte
	// tag is read into the Prover, not the stack, since a buffer passed to
	// an io.ReaderAt escapes.
	tag [ScalarSize]byte
}

// NewProver returns a Prover for ch.
func NewProver(ch *Challenge) *Prover {
	return &Prover{ch: ch, added: make([]bool, len(ch.targets)), left: len(ch.targets)}
}

// Add folds target i of the challenge into the proof. data reads the
// shard's bytes and tags its encoded tag file (as a Tagger wrote it). A
// block that data cannot supply in full, or a tag that is missing or not
// canonical, fails with ErrShardData or ErrMalformedTags; after any error
// the Prover is spent and keeps returning it.
func (p *Prover) Add(i int, data, tags io.ReaderAt) error {
	if p.err != nil {
		return p.err
	}
	if i < 0 || i >= len(p.ch.targets) {
		return fmt.Errorf("prove: target %d of %d", i, len(p.ch.targets))
	}
	if p.added[i] {
		return fmt.Errorf("prove: target %d (shard %s) added twice", i, p.ch.targets[i].ID.Short())
	}
	if err := p.add(i, data, tags); err != nil {
		p.err = err
		return err
	}
	p.added[i] = true
	p.left--
	return nil
}

func (p *Prover) add(i int, data, tags io.ReaderAt) error {
	t := p.ch.targets[i]
	if n, err := tags.ReadAt(p.tag[:1], 0); n < 1 {
		return fmt.Errorf("prove shard %s: read tags version: %w: %w", t.ID.Short(), ErrShardData, shortRead(err))
	}
	if p.tag[0] != TagsVersion {
		return fmt.Errorf("prove shard %s: tags version %d, want %d: %w", t.ID.Short(), p.tag[0], TagsVersion, ErrMalformedTags)
	}
	var tag edwards25519.Scalar
	for _, pk := range p.ch.picks[i] {
		if err := p.readBlock(t, pk.block, data); err != nil {
			return err
		}
		if n, err := tags.ReadAt(p.tag[:], tagOffset(pk.block)); n < ScalarSize {
			return fmt.Errorf("prove shard %s: read tag of block %d: %w: %w", t.ID.Short(), pk.block, ErrShardData, shortRead(err))
		}
		if _, err := tag.SetCanonicalBytes(p.tag[:]); err != nil {
			return fmt.Errorf("prove shard %s: tag of block %d is not a canonical scalar: %w", t.ID.Short(), pk.block, ErrMalformedTags)
		}
		tagLimbs := limbs(&tag)
		accumulateBlock(&p.mu, &p.buf, pk.nu)
		p.sigma.mulAdd(pk.nu[:], tagLimbs[:])
	}
	return nil
}

// readBlock reads block b of shard t into p.buf, zero-padding the last one.
func (p *Prover) readBlock(t Target, b uint64, data io.ReaderAt) error {
	off := int64(b) * BlockSize
	n := min(int64(BlockSize), t.Size-off)
	got, err := data.ReadAt(p.buf[:n], off)
	if int64(got) < n {
		return fmt.Errorf("prove shard %s: read block %d (%d of %d bytes): %w: %w", t.ID.Short(), b, got, n, ErrShardData, shortRead(err))
	}
	clear(p.buf[n:])
	return nil
}

// shortRead is the error of a ReadAt that returned less than asked: EOF
// there means the file is too short.
func shortRead(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Proof returns the proof once every target has been added.
func (p *Prover) Proof() (*Proof, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.left > 0 {
		for i, ok := range p.added {
			if !ok {
				return nil, fmt.Errorf("prove: shard %s (target %d) not added, %d missing", p.ch.targets[i].ID.Short(), i, p.left)
			}
		}
	}
	pr := new(Proof)
	p.sigma.reduce(&pr.sigma)
	for j := range p.mu {
		reduceCols(&pr.mu[j], p.mu[j][:])
	}
	return pr, nil
}

// Verify checks that p answers ch under k: that
//
//	sigma = sum nu_i*PRF(id, i) + sum_j alpha_j*mu_j
//
// over every challenged block i of every shard id. It returns nil or an error
// wrapping ErrInvalidProof.
func (k *Key) Verify(ch *Challenge, p *Proof) error {
	f := newPRF(k)
	var w wide
	var r [4]uint64
	var s edwards25519.Scalar
	for i, t := range ch.targets {
		for _, pk := range ch.picks[i] {
			r = limbs(f.scalar(&s, t.ID, pk.block))
			w.mulAdd(pk.nu[:], r[:])
		}
	}
	for j := range p.mu {
		m := limbs(&p.mu[j])
		w.mulAdd(k.alphaLimbs[j][:], m[:])
	}
	if w.reduce(&s).Equal(&p.sigma) != 1 {
		return fmt.Errorf("verify proof over %d shards: %w", len(ch.targets), ErrInvalidProof)
	}
	return nil
}
