package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/chunker"
	"github.com/dsn-project/dsn/erasure"
	"github.com/dsn-project/dsn/internal/directio"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node/shardproto"
	"github.com/dsn-project/dsn/seal"
	"github.com/ipfs/go-cid"
)

// Retrieval errors.
var (
	// ErrNotEnoughShards is returned when fewer than k shards of a segment
	// could be fetched and verified.
	ErrNotEnoughShards = errors.New("not enough shards")
	// ErrRootMismatch is returned when the retrieved bytes do not hash to
	// the root CID recorded in the manifest.
	ErrRootMismatch = errors.New("retrieved data does not match the file's root CID")
	// ErrManifestNotFound is returned when no reachable peer has the
	// manifest a reference names.
	ErrManifestNotFound = errors.New("manifest not found")
	// ErrExists is returned by RetrieveFile when the output exists and
	// overwriting was not asked for.
	ErrExists = errors.New("output file exists")
	// ErrOutputIsDir is returned by RetrieveFile when the output path is a
	// directory, or ends in a path separator as a directory's name does.
	ErrOutputIsDir = errors.New("output path is a directory; name a file")
)

// segmentsAhead is how many segments a retrieval fetches ahead of the one
// being decrypted and written; with the one being written it bounds
// retrieval memory, whatever the file size.
const segmentsAhead = 2

// Bounds on finding a manifest: how many peers are asked, how many at once,
// and how long one may take. A peer that accepts and then stalls costs one
// slot for manifestAskTimeout, not the whole lookup.
const (
	manifestAsks       = 3*manifestReplicas + maxProviderLookup
	manifestParallel   = 3
	manifestAskTimeout = time.Minute
)

// FetchManifest finds and opens the newest manifest of the file ref
// names: the manifest the reference names, or the newest version of it
// that its updater key signed and that describes the same content (see
// latest). It asks the peers that announced the envelope, then the peers
// closest to it (where a store puts its copies), a few at a time, and the
// first copy that hashes to the CID wins.
func (c *Client) FetchManifest(ctx context.Context, ref manifest.Reference) (*manifest.Manifest, error) {
	return c.fetchLatest(ctx, ref.Manifest, ref.ManifestKey())
}

// FetchManifestCap is FetchManifest for a repairer: it opens the manifests
// with the capability's key.
func (c *Client) FetchManifestCap(ctx context.Context, rc manifest.RepairCap) (*manifest.Manifest, error) {
	return c.fetchLatest(ctx, rc.Manifest, &rc.Key)
}

func (c *Client) fetchLatest(ctx context.Context, original cid.Cid, key *seal.ManifestKey) (*manifest.Manifest, error) {
	m, err := c.fetchEnvelope(ctx, original, key)
	if err != nil {
		return nil, err
	}
	return c.latest(ctx, original, key, m), nil
}

// versionLookupTimeout bounds the lookup of a file's version records: a
// DHT that does not answer in time leaves the reader on the manifest the
// reference names, which is still correct, if perhaps with stale hints.
const versionLookupTimeout = 10 * time.Second

// maxVersionRecords bounds how many records for one key a lookup weighs.
const maxVersionRecords = 16

// latest returns the newest version of the file whose original manifest
// is orig (CID original): it looks up the version records under the key
// that binds original and orig's updater key, keeps the newest whose
// signature verifies, fetches the manifest it names, and returns it if its
// content (sizes, cipher, code, root, every shard ID) is orig's. Anything
// less, a forged, malformed or mismatched version, is logged and ignored,
// and orig is returned: a version can move shards, never change them.
func (c *Client) latest(ctx context.Context, original cid.Cid, key *seal.ManifestKey, orig *manifest.Manifest) *manifest.Manifest {
	rec := c.latestVersion(ctx, original, orig.Updater, nil)
	if rec == nil || rec.Manifest.Equals(original) {
		return orig
	}
	next, err := c.fetchEnvelope(ctx, rec.Manifest, key)
	if err != nil {
		c.log.Warn("ignoring manifest version: cannot fetch it", "manifest", original, "version", rec.Seq, "next", rec.Manifest, "err", err)
		return orig
	}
	if err := orig.SameContent(next); err != nil {
		c.log.Warn("ignoring manifest version: it changes the file", "manifest", original, "version", rec.Seq, "next", rec.Manifest, "err", err)
		return orig
	}
	c.log.Debug("following manifest version", "manifest", original, "version", rec.Seq, "next", rec.Manifest)
	return next
}

// latestVersion returns the newest valid version record of the file among
// those the record store has and have (records the caller kept), or nil.
// Invalid records are logged and skipped: they come from the network.
func (c *Client) latestVersion(ctx context.Context, original cid.Cid, updater [ed25519.PublicKeySize]byte, have [][]byte) *manifest.VersionRecord {
	key := manifest.VersionKey(original, updater)
	vals := have
	if c.records != nil {
		lctx, cancel := context.WithTimeout(ctx, versionLookupTimeout)
		got, err := c.records.GetRecords(lctx, key)
		cancel()
		if err != nil {
			c.log.Debug("version lookup failed", "manifest", original, "err", err)
		}
		vals = append(vals, got[:min(len(got), maxVersionRecords)]...)
	}
	var best *manifest.VersionRecord
	for _, b := range vals {
		if err := (manifest.VersionValidator{}).Validate(key, b); err != nil {
			c.log.Warn("ignoring manifest version record", "manifest", original, "err", err)
			continue
		}
		rec, _ := manifest.ParseVersionRecord(b)
		if best == nil || rec.Newer(best) {
			best = rec
		}
	}
	return best
}

// fetchEnvelope finds, fetches and opens the manifest envelope named by
// the CID mc.
func (c *Client) fetchEnvelope(ctx context.Context, mc cid.Cid, key *seal.ManifestKey) (*manifest.Manifest, error) {
	id, err := manifest.BlobID(mc)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", mc, err)
	}
	// The two lookups are independent DHT queries: run them together.
	var peers, closest []dsn.PeerID
	var lw sync.WaitGroup
	lw.Go(func() { peers = c.providersOf(ctx, id, "") })
	lw.Go(func() { closest = c.candidates(ctx, id) })
	lw.Wait()
	for _, p := range closest {
		if !slices.Contains(peers, p) {
			peers = append(peers, p)
		}
	}
	peers = peers[:min(len(peers), manifestAsks)]
	if len(peers) == 0 {
		return nil, fmt.Errorf("manifest %s: %w: no peers reachable", mc, ErrManifestNotFound)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		blob []byte
		err  error
	}
	answers := make(chan answer, len(peers))
	sem := make(chan struct{}, manifestParallel)
	var wg sync.WaitGroup
	go func() {
		defer wg.Wait()
		for _, p := range peers {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				answers <- answer{err: ctx.Err()}
				continue
			}
			wg.Go(func() {
				defer func() { <-sem }()
				actx, acancel := context.WithTimeout(ctx, manifestAskTimeout)
				defer acancel()
				blob, err := c.getWhole(actx, p, id, int64(manifest.MaxEnvelopeSize), nil, nil)
				if err != nil {
					err = fmt.Errorf("%s: %w", p, err)
				}
				answers <- answer{blob, err}
			})
		}
	}()
	var errs []error
	for range peers {
		a := <-answers
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		cancel()
		m, err := manifest.Open(a.blob, key)
		if err != nil {
			// The blob hashed to the reference's CID, so it is the right
			// manifest: a failure here is the reference's (wrong key) or
			// its writer's, not the provider's, and asking another peer
			// would not help.
			return nil, fmt.Errorf("manifest %s: %w", mc, err)
		}
		return m, nil
	}
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", mc, err)
	}
	return nil, fmt.Errorf("manifest %s: %w on %d peers (%w)", mc, ErrManifestNotFound, len(errs), errors.Join(errs...))
}

// getWhole fetches a whole shard or blob from p into buf (grown as needed)
// and verifies it. It refuses sizes above max before reading any byte.
// With a gate (see hedge), it asks p for the first hedgeProbe bytes only,
// and for the rest once the gate is closed; the deadline allows for the
// wait.
func (c *Client) getWhole(ctx context.Context, p dsn.PeerID, id dsn.ShardID, max int64, buf []byte, gate <-chan struct{}) ([]byte, error) {
	release, err := c.limit.acquire(ctx, p)
	if err != nil {
		return nil, err
	}
	defer release()
	timeout := c.shardDeadline(max)
	first := int64(-1)
	if gate != nil {
		timeout += hedgeMax
		first = min(hedgeProbe, max)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rc, size, err := shardproto.Get(ctx, c.t, p, id, 0, first)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size < 0 || size > max {
		return nil, fmt.Errorf("shard %s: provider says %d bytes, more than the %d expected: %w", id.Short(), size, max, dsn.ErrShardSize)
	}
	var body io.Reader = rc
	if first >= 0 && first < size {
		rest := &gatedRest{ctx: ctx, c: c, p: p, id: id, off: first, size: size, gate: gate}
		defer rest.close()
		body = io.MultiReader(rc, rest)
	}
	if int64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	vr := dsn.VerifyReader(id, size, body)
	if _, err := io.ReadFull(vr, buf); err != nil {
		return nil, err
	}
	// The verifying reader checks the hash when asked past the last byte.
	if _, err := vr.Read(nil); err != io.EOF {
		return nil, err
	}
	return buf, nil
}

// gatedRest reads a shard from off to its end, asking its holder for
// those bytes only once gate is closed.
type gatedRest struct {
	ctx       context.Context
	c         *Client
	p         dsn.PeerID
	id        dsn.ShardID
	off, size int64
	gate      <-chan struct{}
	rc        io.ReadCloser
}

func (g *gatedRest) Read(b []byte) (int, error) {
	if g.rc == nil {
		select {
		case <-g.gate:
		case <-g.ctx.Done():
			return 0, context.Cause(g.ctx)
		}
		rc, size, err := shardproto.Get(g.ctx, g.c.t, g.p, g.id, g.off, -1)
		if err != nil {
			return 0, err
		}
		g.rc = rc
		if size != g.size {
			return 0, fmt.Errorf("shard %s: provider said %d bytes, then %d: %w", g.id.Short(), g.size, size, dsn.ErrShardSize)
		}
	}
	return g.rc.Read(b)
}

func (g *gatedRest) close() {
	if g.rc != nil {
		g.rc.Close()
	}
}

// segBufs is the buffer one segment of a retrieval uses, one slot per
// shard, and the decoded segment in it. The data shards' slots lie end to
// end at the start of shards, as the segment's bytes do, so the segment is
// decoded in place: with every data shard present, data is shards[:segLen]
// and nothing is copied; a missing data shard is rebuilt into its own slot.
type segBufs struct{ shards, data []byte }

// fetchedSegment is a decoded, still sealed, segment, or why it could not
// be fetched.
type fetchedSegment struct {
	index int
	bufs  segBufs
	err   error
}

// fetchSegment fetches shards of segment i from all their holders at once,
// keeps the first k that verify, cancels the rest and decodes. With a
// hedge, only the shards primary lists (nil: the k data shards) are read
// at once; the others are asked for at once but read only when needed
// (see hedge). Shard j is read into its slot of shardBuf, and the segment
// is decoded in place there (see segBufs) once every fetch has ended; the
// result is a view of shardBuf.
func (c *Client) fetchSegment(parent context.Context, m *manifest.Manifest, code *erasure.Code, i int, shardBuf []byte, h *hedge, primary []int) ([]byte, error) {
	segLen, shardSize := m.SegmentLen(i), m.ShardSize(i)
	seg := m.Segments[i]
	n := len(seg.Shards)
	shards := make([][]byte, n)
	if primary == nil {
		primary = make([]int, min(m.K, n))
		for j := range primary {
			primary[j] = j
		}
	}
	// rank[j] is shard j's place in primary, -1 for a gated shard.
	rank := make([]int, n)
	for j := range rank {
		rank[j] = -1
	}
	for r, j := range primary {
		rank[j] = r
	}

	ctx, cancel := context.WithCancel(parent)
	type result struct {
		j   int
		err error
	}
	results := make(chan result, n)

	// The gate of the other shards. hedged records why it opened early:
	// a failure or the timer, after which this segment's time says
	// nothing of the usual one, and the primary holders not done by then
	// were slow.
	start := time.Now()
	gate := make(chan struct{})
	var gateOnce sync.Once
	var hedged atomic.Bool
	primaryDone := make([]atomic.Bool, len(primary))
	openGate := func(early bool) {
		gateOnce.Do(func() {
			hedged.Store(early)
			close(gate)
		})
	}
	holders := make([]dsn.PeerID, len(primary))
	for r, j := range primary {
		holders[r] = seg.Shards[j].Provider
	}
	if d, wait := h.delay(holders); wait && len(primary) >= m.K {
		t := time.AfterFunc(d, func() {
			for r := range primaryDone {
				if !primaryDone[r].Load() {
					h.slowPeer(holders[r])
				}
			}
			openGate(true)
		})
		defer t.Stop()
	} else {
		openGate(false)
	}

	var wg sync.WaitGroup
	for j, sh := range seg.Shards {
		var g <-chan struct{}
		onFail := func(p dsn.PeerID) {}
		if rank[j] < 0 {
			g = gate
		} else {
			onFail = func(p dsn.PeerID) {
				h.slowPeer(p)
				openGate(true)
			}
		}
		wg.Go(func() {
			slot := shardBuf[int64(j)*shardSize : int64(j+1)*shardSize : int64(j+1)*shardSize]
			results <- result{j, c.fetchShard(ctx, sh, shardSize, slot, g, onFail)}
		})
	}
	var errs []error
	got := 0
	for range n {
		r := <-results
		if r.err != nil {
			if ctx.Err() == nil {
				errs = append(errs, fmt.Errorf("shard %d on %s: %w", r.j, seg.Shards[r.j].Provider, r.err))
				c.log.Debug("shard fetch failed", "segment", i, "shard", r.j, "err", r.err)
			}
			continue
		}
		if rank[r.j] >= 0 {
			primaryDone[rank[r.j]].Store(true)
		}
		if got < m.K {
			shards[r.j] = shardBuf[int64(r.j)*shardSize : int64(r.j+1)*shardSize]
			got++
		}
		if got == m.K {
			openGate(false)
			if !hedged.Load() {
				h.observe(time.Since(start))
			}
			cancel() // the long tail is not needed
		}
	}
	cancel()
	// Every fetch has finished writing into shardBuf before it is reused.
	wg.Wait()
	if got < m.K {
		if parent.Err() != nil {
			return nil, context.Cause(parent)
		}
		return nil, fmt.Errorf("segment %d: %w: %d of %d verified, need %d: %w", i, ErrNotEnoughShards, got, n, m.K, errors.Join(errs...))
	}
	out, err := code.Decode(shards, segLen, shardBuf)
	if err != nil {
		return nil, fmt.Errorf("segment %d: %w", i, err)
	}
	return out, nil
}

// fetchShard fetches a shard into slot (exactly its size) from the holder
// the manifest names or, failing that, from peers that announced it. It
// reads the body only once gate (if not nil) is closed, and calls onFail
// with every holder that fails.
func (c *Client) fetchShard(ctx context.Context, sh manifest.Shard, size int64, slot []byte, gate <-chan struct{}, onFail func(dsn.PeerID)) error {
	get := func(p dsn.PeerID) error {
		b, err := c.getWhole(ctx, p, sh.ID, size, slot, gate)
		if err == nil && int64(len(b)) != size {
			err = fmt.Errorf("shard %s: %d bytes, want %d: %w", sh.ID.Short(), len(b), size, dsn.ErrShardSize)
		}
		if err == nil {
			noteServed(ctx, p, sh.ID, size)
		} else if ctx.Err() == nil {
			onFail(p)
		}
		return err
	}
	err := get(sh.Provider)
	if err == nil || ctx.Err() != nil {
		return err
	}
	errs := []error{fmt.Errorf("%s: %w", sh.Provider, err)}
	for _, p := range c.providersOf(ctx, sh.ID, sh.Provider) {
		if err := get(p); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return err
		} else {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Retrieve fetches the file ref names and writes its plaintext to w. The
// bytes written are checked chunk by chunk (sealed files) and the root CID
// is checked at the end: an error means w may hold a prefix of the file or
// bytes that failed verification, so callers writing to a file should use
// RetrieveFile, which only exposes verified output.
func (c *Client) Retrieve(ctx context.Context, ref manifest.Reference, w io.Writer, progress func(done, total int64)) (*manifest.Manifest, error) {
	m, err := c.FetchManifest(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("retrieve: %w", err)
	}
	ctx, receipt := c.collectReceipts(ctx)
	defer receipt()
	if err := c.retrieve(ctx, ref, m, w, progress); err != nil {
		return m, fmt.Errorf("retrieve %s: %w", ref.Manifest, err)
	}
	return m, nil
}

func (c *Client) retrieve(ctx context.Context, ref manifest.Reference, m *manifest.Manifest, w io.Writer, progress func(done, total int64)) error {
	code, err := erasure.New(m.K, m.M)
	if err != nil {
		return err
	}
	var cc *seal.ChunkCipher
	overhead := int64(0)
	if m.Cipher != seal.None {
		cc, err = seal.NewChunkCipher(*ref.Key, m.FileID, m.Cipher)
		if err != nil {
			return err
		}
		overhead = seal.Overhead
	}
	stride := m.ChunkSize + overhead

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The root CID is recomputed on another goroutine from the plaintext
	// as it is written, so hashing overlaps decryption.
	pr, pw := io.Pipe()
	type rootResult struct {
		err  error
		root string
	}
	rootc := make(chan rootResult, 1)
	go func() {
		root, err := chunker.RootCID(pr, m.Chunker)
		pr.CloseWithError(err)
		rootc <- rootResult{err, root.String()}
	}()
	out := io.MultiWriter(w, pw)

	// Fetch ahead; buffers cycle through a fixed pool.
	// Wide segments are fetched one ahead instead of two, so that what a
	// manifest can make a reader hold stays near 3 × MaxCodedSegment.
	ahead := segmentsAhead
	if int64(m.K+m.M)*m.ShardSize(0) > 64<<20 {
		ahead = 1
	}
	h := newHedge()
	pool := make(chan segBufs, ahead+1)
	for range ahead + 1 {
		pool <- segBufs{}
	}
	// Only the fetching goroutine takes buffers; every return below comes
	// after it has ended and every fetch it started has finished.
	var bufs scratch
	defer bufs.release()
	// Segments are fetched concurrently, as many as there are buffers, and
	// handed on in order: each waits on its own done channel.
	type pending struct {
		f    fetchedSegment
		done chan struct{}
	}
	fetched := make(chan *pending, ahead)
	go func() {
		defer close(fetched)
		for i := range m.Segments {
			var b segBufs
			select {
			case b = <-pool:
			case <-ctx.Done():
				return
			}
			// Only the last segment is shorter, so each buffer is
			// normally taken once, for the first segment it serves.
			b.shards = bufs.fit(b.shards, int(int64(len(m.Segments[i].Shards))*m.ShardSize(i)))
			p := &pending{done: make(chan struct{})}
			select {
			case fetched <- p:
			case <-ctx.Done():
				return
			}
			go func() {
				defer close(p.done)
				data, err := c.fetchSegment(ctx, m, code, i, b.shards, h, nil)
				b.data = data
				p.f = fetchedSegment{index: i, bufs: b, err: err}
			}()
		}
	}()

	var done, chunk int64
	writeErr := func() error {
		for p := range fetched {
			<-p.done
			f := p.f
			if f.err != nil {
				return f.err
			}
			data := f.bufs.data
			for off := int64(0); off < int64(len(data)); off += stride {
				sealed := data[off:min(off+stride, int64(len(data)))]
				plain := sealed
				if cc != nil {
					plain, err = cc.Open(sealed[:0], sealed, uint64(chunk))
					if err != nil {
						return fmt.Errorf("segment %d: %w", f.index, err)
					}
				}
				chunk++
				if _, err := out.Write(plain); err != nil {
					return err
				}
				done += int64(len(plain))
			}
			if progress != nil {
				progress(done, m.Size)
			}
			pool <- f.bufs
		}
		return nil
	}()
	if writeErr == nil && done != m.Size && ctx.Err() != nil {
		// The fetcher stopped early because the caller's ctx ended, and
		// the segments it had fetched were written: a cancellation, not
		// data that fails its check.
		writeErr = context.Cause(ctx)
	}
	if writeErr != nil {
		cancel()
		pw.CloseWithError(writeErr)
		<-rootc
		// Every fetch ends (ctx is cancelled) before the buffers go.
		for p := range fetched {
			<-p.done
		}
		return writeErr
	}
	pw.Close()
	rr := <-rootc
	if rr.err != nil {
		return fmt.Errorf("root CID: %w", rr.err)
	}
	if done != m.Size {
		return fmt.Errorf("%w: got %d bytes, manifest says %d", ErrRootMismatch, done, m.Size)
	}
	if rr.root != m.Root.String() {
		return fmt.Errorf("%w: got %s, manifest says %s", ErrRootMismatch, rr.root, m.Root)
	}
	return nil
}

// outputBuffer is the size of each of the two buffers through which
// RetrieveFile writes: large enough that the disk sees few large writes.
const outputBuffer = 4 << 20

// RetrieveFile retrieves ref into the file at path. The bytes go to a
// temporary file beside it, which is renamed to path only after the whole
// file has been verified; on any error path is left untouched. An existing
// path is replaced only when force is set.
func (c *Client) RetrieveFile(ctx context.Context, ref manifest.Reference, path string, force bool, progress func(done, total int64)) (*manifest.Manifest, error) {
	// A directory is never an output, forced or not: refused before any
	// byte is fetched, not after the whole file was.
	if strings.HasSuffix(path, string(filepath.Separator)) || strings.HasSuffix(path, "/") {
		return nil, fmt.Errorf("retrieve: %s: %w", path, ErrOutputIsDir)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("retrieve: %s: %w", path, ErrOutputIsDir)
	}
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("retrieve: %s: %w (use --force to overwrite)", path, ErrExists)
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+strings.TrimPrefix(base, ".")+".dsn-*")
	if err != nil {
		return nil, fmt.Errorf("retrieve: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file private; the output is an ordinary file.
	if err := tmp.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("retrieve: %w", err)
	}
	// The plaintext goes to the disk with O_DIRECT where the file system
	// allows it: a file retrieved is seldom read back at once, and
	// copying it through the page cache cost the kernel more CPU than
	// decrypting it (docs/benchmarks.md).
	dw := directio.NewWriter(tmp, outputBuffer)
	m, err := c.Retrieve(ctx, ref, dw, progress)
	if cerr := dw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("retrieve: write %s: %w", path, cerr)
	}
	if err != nil {
		return m, err
	}
	if err := tmp.Sync(); err != nil {
		return m, fmt.Errorf("retrieve: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return m, fmt.Errorf("retrieve: close %s: %w", path, err)
	}
	if force {
		err = os.Rename(tmp.Name(), path)
	} else {
		// Link fails if path appeared during the retrieval: nothing that
		// exists is replaced without force.
		if err = os.Link(tmp.Name(), path); err == nil {
			os.Remove(tmp.Name())
		} else if errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%s: %w (use --force to overwrite)", path, ErrExists)
		}
	}
	if err != nil {
		return m, fmt.Errorf("retrieve: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		// The new name is durable too, not just the bytes.
		d.Sync()
		d.Close()
	}
	keep = true
	return m, nil
}
