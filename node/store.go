package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/chunker"
	"github.com/dsn-project/dsn/erasure"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/market"
	"github.com/dsn-project/dsn/node/auditproto"
	"github.com/dsn-project/dsn/node/book"
	"github.com/dsn-project/dsn/node/shardproto"
	"github.com/dsn-project/dsn/proofs/compact"
	"github.com/dsn-project/dsn/seal"
)

// Defaults for StoreOptions.
const (
	DefaultK = 4
	DefaultM = 2
	// segmentUploads is how many segments upload at once.
	segmentUploads = 2
	// segmentBuffers is how many segment buffers a store keeps in flight:
	// one per pipeline stage (fill, seal, code) and one per upload. It
	// bounds a store's memory at about segmentBuffers × (k+m)/k × segment
	// size, whatever the file size.
	segmentBuffers = 3 + segmentUploads
	// manifestReplicas is how many providers keep a copy of the manifest,
	// at least; see putManifest.
	manifestReplicas = 6
)

// ErrNotEnoughProviders is returned when the network has fewer providers
// than a segment needs shards placed on distinct peers.
var ErrNotEnoughProviders = errors.New("not enough providers")

// ErrFileTooLarge is returned by Store for a file with more segments than
// one manifest can list at its code (manifest.MaxSegments), as soon as
// the reader reaches that point.
var ErrFileTooLarge = errors.New("file too large for one manifest")

// maxSegments is manifest.MaxSegments; tests lower it to reach it.
var maxSegments = manifest.MaxSegments

// ClientOptions configures a Client.
type ClientOptions struct {
	// ShardTimeout is the fixed part of the deadline of one shard transfer,
	// which also allows MinRate per byte; 0 means 30 s.
	ShardTimeout time.Duration
	// MinRate is the slowest transfer, in bytes per second, that a shard
	// deadline allows for; 0 means 1 MiB/s, a slow home uplink. A peer
	// slower than that is treated as failed and another is used.
	MinRate int64
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Rand is the source of keys and file identities; nil means crypto/rand.
	Rand io.Reader
	// Router finds the peers closest to a shard and the peers that announced
	// one; nil ranks the transport's peers and knows no announcements.
	Router dsn.Router
	// ProofKey, if set, is the owner's key for compact proofs of
	// retrievability: every shard stored is tagged with it, and the tags
	// go to the shard's provider with the shard, so that the owner can
	// audit it later with a proof of a few kilobytes.
	ProofKey *compact.Key
	// Book, if set, is this node's ledger: every shard stored gets a deal
	// countersigned by its provider, and every shard a provider serves
	// under a deal gets a receipt.
	Book *book.Book
	// Records, if set, keeps the signed version records of manifests;
	// nil uses the transport's or the router's own (the libp2p host's
	// DHT, the in-process network's map) if either has one.
	Records RecordStore
	// Market, if set, is what the node knows of providers' asks: placement
	// passes over a provider whose ask does not fit the store's price
	// limit, and a deal is made at the provider's asking prices.
	Market Market
}

// Market is the client's view of the providers' asks.
type Market interface {
	// Eligible reports whether p may take a shard of size bytes at a
	// price per GiB-month of at most maxPrice (0: no limit), and if not,
	// why.
	Eligible(p dsn.PeerID, size int64, maxPrice uint64) error
	// Prices returns p's asking prices per GiB-month kept and per GiB
	// served, if it has a standing ask.
	Prices(p dsn.PeerID) (perGiBMonth, perGiB uint64, ok bool)
	// Vetted reports whether p has passed enough of the client's audits
	// to be trusted with more than market.DefaultMaxUnvetted shards of a
	// segment.
	Vetted(p dsn.PeerID) bool
}

// Client stores and retrieves files over a Transport.
type Client struct {
	t       dsn.Transport
	router  dsn.Router
	records RecordStore // nil: versions are neither published nor followed
	opts    ClientOptions
	log     *slog.Logger
	limit   peerLimiter
	// ledgerLimit bounds the ledger requests (deals, receipts, outcomes)
	// in flight with each peer, apart from transfers.
	ledgerLimit peerLimiter
	// put uploads one shard; a field so that benchmarks can measure the
	// pipeline without the providers' side.
	put func(ctx context.Context, p dsn.PeerID, id dsn.ShardID, b []byte) error
	// putTags hands a provider the compact tags of a shard it took.
	putTags func(ctx context.Context, p dsn.PeerID, id dsn.ShardID, tags []byte) error
}

// NewClient returns a Client that reaches providers through t.
func NewClient(t dsn.Transport, opts ClientOptions) *Client {
	if opts.ShardTimeout <= 0 {
		opts.ShardTimeout = 30 * time.Second
	}
	if opts.MinRate <= 0 {
		opts.MinRate = 1 << 20
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{t: t, router: opts.Router, opts: opts, log: log}
	if c.router == nil {
		c.router = peerListRouter{t}
	}
	switch {
	case opts.Records != nil:
		c.records = opts.Records
	case implements[RecordStore](t):
		c.records = any(t).(RecordStore)
	case implements[RecordStore](opts.Router):
		c.records = any(opts.Router).(RecordStore)
	}
	c.put = c.putShard
	c.putTags = c.sendTags
	return c
}

// StoreOptions says how to store one file.
type StoreOptions struct {
	K, M int
	// Public stores the file unencrypted; its reference carries no key.
	Public bool
	// Chunker is the chunker spec for the plaintext root CID ("" = default).
	Chunker string
	// SegmentChunks is the number of chunks per segment (0 = default).
	SegmentChunks int
	// MaxPrice is the most the store pays per GiB-month kept, in
	// nano-units (0: no limit); providers asking more are passed over.
	MaxPrice uint64
	// Progress, if set, is called with the number of plaintext bytes read
	// so far and the number of shard bytes acknowledged by providers. It is
	// called from several goroutines at once.
	Progress func(read, stored int64)
}

// StoreResult is what a store produced.
type StoreResult struct {
	Reference manifest.Reference
	// RepairCap lets its holder repair the file and publish new versions
	// of its manifest, but not read it. For a private file it is derived
	// from the reference; a public file's is random and exists only here,
	// so its owner must keep it.
	RepairCap manifest.RepairCap
	Manifest  *manifest.Manifest
	// Stored is the number of shard bytes acknowledged by providers.
	Stored int64
}

// CheckKM reports whether k and m are usable, with a message that says why
// not.
func CheckKM(k, m int) error {
	if k < 1 || m < 0 || k+m > erasure.MaxShards {
		return fmt.Errorf("k=%d m=%d: need k >= 1, m >= 0 and k+m <= %d", k, m, erasure.MaxShards)
	}
	return nil
}

// segment is one segment moving through the store pipeline. Chunk i of the
// segment sits at i × (ChunkSize + overhead) in buf, so sealing in place
// leaves the sealed stream contiguous.
type segment struct {
	index  int
	buf    []byte
	plain  int64 // plaintext bytes in the segment
	chunks int   // chunks in the segment, the last possibly short
	first  int64 // global index of the segment's first chunk
	fill   int64 // plaintext bytes in the chunk being filled
	shards [][]byte
	ids    []dsn.ShardID
}

// segmentSize returns the stored size of a segment of chunks chunks of
// stride bytes, within the bounds every reader enforces: at most
// manifest.MaxSegmentSize, and all k+m shards together at most
// manifest.MaxCodedSegment. With chunks 0 it picks the default, narrowed
// as far as a wide code needs.
func segmentSize(chunks int, stride int64, k, m int) (int64, error) {
	coded := func(c int) int64 { return int64(k+m) * erasure.ShardSize(int64(c)*stride, k) }
	if chunks == 0 {
		chunks = erasure.DefaultSegmentChunks
		for chunks > 1 && coded(chunks) > manifest.MaxCodedSegment {
			chunks--
		}
	}
	if chunks < 1 || int64(chunks)*stride > manifest.MaxSegmentSize {
		return 0, fmt.Errorf("%d chunks per segment is out of range [1, %d]", chunks, manifest.MaxSegmentSize/stride)
	}
	if n := coded(chunks); n > manifest.MaxCodedSegment {
		return 0, fmt.Errorf("%d chunks per segment coded as %d+%d shards take %d bytes, more than the %d limit", chunks, k, m, n, int64(manifest.MaxCodedSegment))
	}
	return int64(chunks) * stride, nil
}

// sealedLen is the length of the segment in the stored stream.
func (s *segment) sealedLen(overhead int64) int64 { return s.plain + int64(s.chunks)*overhead }

// Store reads r to the end and stores it on the network. The returned
// reference is all that is needed to retrieve it.
func (c *Client) Store(ctx context.Context, r io.Reader, opts StoreOptions) (*StoreResult, error) {
	if opts.K == 0 && opts.M == 0 {
		opts.K, opts.M = DefaultK, DefaultM
	}
	if err := CheckKM(opts.K, opts.M); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	spec, err := chunker.ParseSpec(opts.Chunker)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	code, err := erasure.New(opts.K, opts.M)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if n := len(c.t.Peers()); n < opts.K+opts.M {
		return nil, fmt.Errorf("store: %w: %d reachable, k+m=%d needed (one per shard of a segment)", ErrNotEnoughProviders, n, opts.K+opts.M)
	}

	m := &manifest.Manifest{
		Chunker:   spec,
		ChunkSize: chunker.DefaultChunkSize,
		K:         opts.K,
		M:         opts.M,
		Cipher:    seal.None,
	}
	var key seal.Key
	var mkey seal.ManifestKey // signs the manifest's versions, and seals it when private
	var cc *seal.ChunkCipher
	overhead := int64(0)
	if opts.Public {
		if mkey, err = seal.NewManifestKey(c.opts.Rand); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	} else {
		if key, err = seal.NewKey(c.opts.Rand); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		mkey = key.ManifestKey()
		if m.FileID, err = seal.NewFileID(c.opts.Rand); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		m.Cipher = seal.Default
		if cc, err = seal.NewChunkCipher(key, m.FileID, m.Cipher); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		overhead = seal.Overhead
	}
	stride := m.ChunkSize + overhead
	if m.SegmentSize, err = segmentSize(opts.SegmentChunks, stride, opts.K, opts.M); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	opts.SegmentChunks = int(m.SegmentSize / stride)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Segment buffers come from a scratch (outside the Go heap), taken
	// only by stage 1, this goroutine, and given back once every stage
	// has ended.
	var bufs scratch
	pool := make(chan []byte, segmentBuffers)
	for range segmentBuffers {
		pool <- nil // taken on first use, so small files stay small
	}
	getBuf := func() ([]byte, error) {
		select {
		case b := <-pool:
			return bufs.fit(b, code.BufferSize(m.SegmentSize)), nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}

	var read, stored atomic.Int64
	progress := func() {
		if opts.Progress != nil {
			opts.Progress(read.Load(), stored.Load())
		}
	}
	toSeal := make(chan *segment, 1)
	toPlace := make(chan *segment, 1)
	var wg sync.WaitGroup
	fail := func(err error) { cancel(err) }

	// Stage 2: seal every chunk of a segment in place.
	wg.Go(func() {
		defer close(toPlace)
		for s := range toSeal {
			if cc != nil {
				for i := range s.chunks {
					off := int64(i) * stride
					n := min(m.ChunkSize, s.plain-int64(i)*m.ChunkSize)
					cc.Seal(s.buf[off:off], s.buf[off:off+n], uint64(s.first)+uint64(i))
				}
			}
			select {
			case toPlace <- s:
			case <-ctx.Done():
				return
			}
		}
	})

	// Stage 3: erasure-code and hash each shard to its ID.
	toUpload := make(chan *segment, 1)
	wg.Go(func() {
		defer close(toUpload)
		for s := range toPlace {
			if ctx.Err() != nil {
				continue
			}
			shards, err := code.Encode(s.buf, s.sealedLen(overhead))
			if err != nil {
				fail(fmt.Errorf("segment %d: %w", s.index, err))
				continue
			}
			s.shards, s.ids = shards, make([]dsn.ShardID, len(shards))
			var hw sync.WaitGroup
			for i, sh := range shards {
				hw.Go(func() { s.ids[i] = dsn.SumShard(sh) })
			}
			hw.Wait()
			select {
			case toUpload <- s:
			case <-ctx.Done():
			}
		}
	})

	// Stage 4: upload, segmentUploads segments at a time, so that one
	// segment's acknowledgements (each waits for a provider's fsync) overlap
	// the next segment's transfer. The manifest lists segments in order
	// whatever order their uploads finish in.
	var (
		segMu   sync.Mutex
		placed  = map[int]manifest.Segment{}
		uploads = make(chan struct{}, segmentUploads)
	)
	wg.Go(func() {
		var uw sync.WaitGroup
		defer uw.Wait()
		for s := range toUpload {
			if ctx.Err() != nil {
				continue
			}
			uploads <- struct{}{}
			uw.Go(func() {
				defer func() { <-uploads }()
				seg, err := c.placeSegment(ctx, s.index, s.shards, s.ids, placePolicy{maxPrice: opts.MaxPrice}, &stored, progress)
				if err != nil {
					fail(err)
					return
				}
				segMu.Lock()
				placed[s.index] = seg
				segMu.Unlock()
				pool <- s.buf
			})
		}
	})

	// Stage 1 (this goroutine): read, hash for the root CID, and lay the
	// chunks out in segment buffers.
	var cur *segment
	next := 0
	var chunksSoFar int64
	send := func() error {
		if cur == nil || cur.plain == 0 {
			return nil
		}
		select {
		case toSeal <- cur:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		chunksSoFar += int64(cur.chunks)
		cur = nil
		return nil
	}
	root, importErr := chunker.Import(r, spec, func(p []byte) error {
		read.Add(int64(len(p)))
		for len(p) > 0 {
			if cur == nil {
				if most := maxSegments(opts.K, opts.M); int64(next) >= most {
					return fmt.Errorf("%w: more than %d segments of %d bytes at %d+%d", ErrFileTooLarge, most, m.SegmentSize, opts.K, opts.M)
				}
				buf, err := getBuf()
				if err != nil {
					return err
				}
				cur = &segment{index: next, buf: buf, first: chunksSoFar}
				next++
			}
			if cur.fill == 0 {
				cur.chunks++
			}
			off := int64(cur.chunks-1)*stride + cur.fill
			n := copy(cur.buf[off:off+m.ChunkSize-cur.fill], p)
			p = p[n:]
			cur.fill += int64(n)
			cur.plain += int64(n)
			if cur.fill == m.ChunkSize {
				cur.fill = 0
				if cur.chunks == opts.SegmentChunks {
					if err := send(); err != nil {
						return err
					}
				}
			}
		}
		progress()
		return nil
	})
	if importErr == nil {
		importErr = send()
	}
	close(toSeal)
	if importErr != nil {
		fail(importErr)
	}
	wg.Wait()
	bufs.release()
	// The cause is the first failure of any stage: a read error from the
	// chunker, or a placement error that stopped the reader.
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}

	m.Size = read.Load()
	m.Root = root
	copy(m.Updater[:], mkey.UpdaterKey().Public().(ed25519.PublicKey))
	m.Segments = make([]manifest.Segment, next)
	for i := range m.Segments {
		m.Segments[i] = placed[i]
	}
	var blob []byte
	if opts.Public {
		blob, err = manifest.Public(m)
	} else {
		blob, err = manifest.Seal(m, mkey, c.opts.Rand)
	}
	if err != nil {
		return nil, fmt.Errorf("store: manifest: %w", err)
	}
	ref := manifest.Reference{Manifest: manifest.CID(blob)}
	if !opts.Public {
		ref.Key = &key
	}
	if err := c.putManifest(ctx, ref, blob, opts.M); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &StoreResult{Reference: ref, RepairCap: manifest.RepairCap{Manifest: ref.Manifest, Key: mkey}, Manifest: m, Stored: stored.Load()}, nil
}

// placeSegment uploads the shards of one segment to distinct providers in
// parallel. A provider that refuses or fails is
// replaced by the next closest candidate not already holding a shard of
// the segment.
//
// pol.keep, when not nil, names for each shard the peer that already
// holds it ("" for the shards to place): repair places only the missing
// shards of a segment, by the same rule, apart from the holders that
// remain; shards[i] is then nil for every kept shard. pol.maxPrice passes
// over providers whose ask does not fit (see ClientOptions.Market).
func (c *Client) placeSegment(ctx context.Context, index int, shards [][]byte, ids []dsn.ShardID, pol placePolicy, stored *atomic.Int64, progress func()) (manifest.Segment, error) {
	out := manifest.Segment{Shards: make([]manifest.Shard, len(shards))}
	keep := pol.keep
	kept := func(i int) bool { return keep != nil && keep[i] != "" }

	// Each shard's candidates, closest first, looked up in parallel.
	cands := make([][]dsn.PeerID, len(shards))
	var lw sync.WaitGroup
	for i := range shards {
		if kept(i) {
			continue
		}
		lw.Go(func() { cands[i] = c.candidates(ctx, ids[i]) })
	}
	lw.Wait()
	var mu sync.Mutex
	taken := make(map[dsn.PeerID]bool, len(shards))
	nets := make(map[string]int, len(shards)) // subnets in use by the segment
	subnets := make(map[dsn.PeerID][]string)
	netsOf := func(p dsn.PeerID) []string {
		if _, ok := subnets[p]; !ok {
			subnets[p] = c.subnets(p)
		}
		return subnets[p]
	}
	// unvetted counts the segment's providers the client has not vetted
	// yet; vetted caches the answers.
	unvetted := 0
	vettedOf := map[dsn.PeerID]bool{}
	vetted := func(p dsn.PeerID) bool {
		if c.opts.Market == nil {
			return true
		}
		v, ok := vettedOf[p]
		if !ok {
			v = c.opts.Market.Vetted(p)
			vettedOf[p] = v
		}
		return v
	}
	for i := range shards {
		if kept(i) {
			out.Shards[i] = manifest.Shard{ID: ids[i], Provider: keep[i]}
			taken[keep[i]] = true
			for _, n := range netsOf(keep[i]) {
				nets[n]++
			}
			if !vetted(keep[i]) {
				unvetted++
			}
		}
	}
	// eligible says whether p's ask admits a shard of size bytes; the
	// reason it does not is logged once per peer.
	refusedAsk := map[dsn.PeerID]bool{}
	eligible := func(p dsn.PeerID, size int) bool {
		if c.opts.Market == nil {
			return true
		}
		if err := c.opts.Market.Eligible(p, int64(size), pol.maxPrice); err != nil {
			if !refusedAsk[p] {
				refusedAsk[p] = true
				c.log.Debug("provider passed over", "peer", p, "err", err)
			}
			return false
		}
		return true
	}
	// next picks for shard i the closest candidate that holds no other
	// shard of the segment and was not tried, preferring one on a network
	// the segment does not use yet, and marks it, so that concurrent
	// uploads never choose the same peer. While the segment holds
	// market.DefaultMaxUnvetted unvetted providers, it takes vetted ones
	// only, unless no vetted candidate is left: a young network, where
	// nobody is vetted yet, must still be able to store (as Storj fills
	// from new nodes when its vetted ones run out).
	next := func(i int, tried map[dsn.PeerID]bool) (dsn.PeerID, bool) {
		mu.Lock()
		defer mu.Unlock()
		skip := func(p dsn.PeerID) bool {
			return taken[p] || tried[p] || pol.avoid[p] || !eligible(p, len(shards[i]))
		}
		clash := func(p dsn.PeerID) bool {
			for _, n := range netsOf(p) {
				if nets[n] > 0 {
					return true
				}
			}
			return false
		}
		var p dsn.PeerID
		ok := false
		if unvetted >= market.DefaultMaxUnvetted {
			p, ok = market.PickSpread(cands[i], func(p dsn.PeerID) bool { return skip(p) || !vetted(p) }, clash)
		}
		if !ok {
			p, ok = market.PickSpread(cands[i], skip, clash)
		}
		if ok {
			taken[p] = true
			for _, n := range netsOf(p) {
				nets[n]++
			}
			if !vetted(p) {
				unvetted++
			}
		}
		return p, ok
	}
	// drop undoes next for a peer that refused.
	drop := func(p dsn.PeerID) {
		mu.Lock()
		defer mu.Unlock()
		delete(taken, p)
		for _, n := range netsOf(p) {
			nets[n]--
		}
		if !vetted(p) {
			unvetted--
		}
	}
	// First choices are made in shard order, before any upload starts, so
	// that placement is the documented greedy rule and anyone can
	// recompute it (docs/placement.md). Only a refusal reorders.
	first := make([]dsn.PeerID, len(shards))
	firstOK := make([]bool, len(shards))
	for i := range shards {
		if !kept(i) {
			first[i], firstOK[i] = next(i, nil)
		}
	}
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, sh := range shards {
		if kept(i) {
			continue
		}
		wg.Go(func() {
			var tags []byte
			if c.opts.ProofKey != nil {
				// Tagged once, whichever provider takes the shard: the
				// tags depend on the shard and the owner only.
				var err error
				if tags, err = c.opts.ProofKey.Tags(ids[i], sh); err != nil {
					errs[i] = fmt.Errorf("segment %d shard %d: tag: %w", index, i, err)
					return
				}
			}
			tried := map[dsn.PeerID]bool{}
			var last error
			for attempt := 0; ; attempt++ {
				p, ok := first[i], firstOK[i]
				if attempt > 0 {
					p, ok = next(i, tried)
				}
				if !ok {
					errs[i] = fmt.Errorf("segment %d shard %d: no provider accepted it (%d tried; last error: %v): %w", index, i, len(tried), last, ErrNotEnoughProviders)
					return
				}
				tried[p] = true
				err := c.put(ctx, p, ids[i], sh)
				if err == nil && tags != nil {
					// A provider that takes the shard but not its tags
					// could never pass the owner's audits: treat it as a
					// refusal and move on.
					err = c.putTags(ctx, p, ids[i], tags)
				}
				if err == nil && c.opts.Book != nil {
					// Nor one that will not sign the deal: it would be
					// neither paid nor bound.
					err = c.makeDeal(ctx, p, ids[i], int64(len(sh)))
				}
				if err == nil {
					out.Shards[i] = manifest.Shard{ID: ids[i], Provider: p}
					stored.Add(int64(len(sh)))
					progress()
					return
				}
				if ctx.Err() != nil {
					errs[i] = context.Cause(ctx)
					return
				}
				c.log.Debug("provider refused shard", "segment", index, "shard", i, "peer", p, "err", err)
				last = err
				drop(p)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	return out, nil
}

// shardDeadline bounds the transfer of size bytes: a stalled peer costs
// that much time, then the next one is tried.
func (c *Client) shardDeadline(size int64) time.Duration {
	return c.opts.ShardTimeout + time.Duration(size)*time.Second/time.Duration(c.opts.MinRate)
}

func (c *Client) putShard(ctx context.Context, p dsn.PeerID, id dsn.ShardID, b []byte) error {
	release, err := c.limit.acquire(ctx, p)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, c.shardDeadline(int64(len(b))))
	defer cancel()
	return shardproto.Put(ctx, c.t, p, id, int64(len(b)), bytes.NewReader(b))
}

func (c *Client) sendTags(ctx context.Context, p dsn.PeerID, id dsn.ShardID, tags []byte) error {
	release, err := c.limit.acquire(ctx, p)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, c.shardDeadline(int64(len(tags))))
	defer cancel()
	return auditproto.PutTags(ctx, c.t, p, id, tags)
}

// placePolicy is what a placement must respect beyond the rule itself.
type placePolicy struct {
	keep []dsn.PeerID
	// avoid are peers that may take none of the shards: in a repair, the
	// holders of the shards being replaced. A holder whose copy is lost
	// or corrupt but which still answers would otherwise be the closest
	// candidate again, and a store that already holds a shard takes it
	// back without reading a byte, so the lost copy would stay lost.
	avoid    map[dsn.PeerID]bool
	maxPrice uint64
}

// putManifest stores the manifest blob, which is named like a shard by its
// BLAKE3 hash, on the providers closest to it, moving down the list past
// those that refuse. A private file's shard IDs exist only in its manifest,
// so it is kept at least as redundantly as the data: m+1 copies survive the
// loss of any m holders, and the store fails with fewer.
func (c *Client) putManifest(ctx context.Context, ref manifest.Reference, blob []byte, m int) error {
	id, err := manifest.BlobID(ref.Manifest)
	if err != nil {
		return err
	}
	want, need := max(manifestReplicas, m+1), m+1
	cands := c.candidates(ctx, id)
	var (
		mu    sync.Mutex
		next  int
		acked int
		errs  []error
		wg    sync.WaitGroup
	)
	take := func() (dsn.PeerID, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next == len(cands) || acked >= want {
			return "", false
		}
		next++
		return cands[next-1], true
	}
	for range min(want, len(cands)) {
		wg.Go(func() {
			for {
				p, ok := take()
				if !ok {
					return
				}
				err := c.put(ctx, p, id, blob)
				mu.Lock()
				if err == nil {
					acked++
				} else {
					errs = append(errs, fmt.Errorf("%s: %w", p, err))
				}
				mu.Unlock()
				if err == nil || ctx.Err() != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if acked < need {
		return fmt.Errorf("manifest: %d of the %d copies needed were acknowledged: %w: %w", acked, need, ErrNotEnoughProviders, errors.Join(errs...))
	}
	return nil
}
