package daemon

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/zeebo/blake3"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node/book"
	"github.com/dsn-project/dsn/node/daemon/api"
	"github.com/dsn-project/dsn/node/owned"
	"github.com/dsn-project/dsn/proofs/compact"

	"github.com/dsn-project/dsn/node"
	"github.com/dsn-project/dsn/node/p2p"
)

// PeerIDOf returns the peer ID of the repo in dir, from its identity key.
func PeerIDOf(dir string) (string, error) {
	return newIdentity(filepath.Join(dir, KeyFile))
}

// newIdentity creates the node's key at path, unless it exists, and
// returns its peer ID.
func newIdentity(path string) (string, error) {
	key, err := p2p.LoadOrCreateKey(path)
	if err != nil {
		return "", err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// RunOptions configure Run.
type RunOptions struct {
	Logger *slog.Logger
	// Ready, if set, is called once the node is up and its API answers.
	Ready func(*Daemon)
}

// Run runs the node of the repo in dir until ctx is done: it takes the
// repo's lock, starts a libp2p host (a DHT server when the node has
// capacity), runs the daemon on it, and on the way out stops it, saves the
// peers and releases the lock.
func Run(ctx context.Context, dir string, ov Overrides, opts RunOptions) (err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r, err := OpenRepo(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	if r.Config, err = ov.Apply(r.Config); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	key, err := p2p.LoadOrCreateKey(r.Path(KeyFile))
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	pk, err := proofKey(key)
	if err != nil {
		return err
	}
	h, err := newHost(ctx, r, key, r.Config.Capacity > 0, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := h.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close host: %w", cerr))
		}
	}()
	lk, err := ledgerKey(key)
	if err != nil {
		return err
	}
	d, err := Start(ctx, r, h, Options{Logger: log, PeerString: p2p.PeerIDString, ProofKey: pk, LedgerKey: lk, KeyOf: keyOf, PeerOf: peerOf})
	if err != nil {
		return err
	}
	if opts.Ready != nil {
		opts.Ready(d)
	}
	<-ctx.Done()
	log.Info("shutting down")
	return d.Stop()
}

// proofKeyContext separates the proof key from every other use of the
// identity key.
const proofKeyContext = "dsn 2026-11 owner compact proof secret v1"

// proofKey derives the node's key for compact proofs from its identity
// key: the tags an owner gives its providers must verify after a restart,
// and the identity key is the one secret a repo already guards.
func proofKey(k crypto.PrivKey) (*compact.Key, error) {
	raw, err := k.Raw()
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	var secret [32]byte
	blake3.DeriveKey(proofKeyContext, raw, secret[:])
	return compact.NewKey(secret), nil
}

// ledgerKey is the identity key as the ledger signs with it.
func ledgerKey(k crypto.PrivKey) (ed25519.PrivateKey, error) {
	raw, err := k.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("identity: not an Ed25519 key (%v)", err)
	}
	return ed25519.PrivateKey(raw), nil
}

// keyOf is the ledger key of a peer: the Ed25519 key its ID embeds.
func keyOf(p dsn.PeerID) (ledger.PublicKey, error) {
	pk, err := p2p.PublicKey(p)
	if err != nil {
		return ledger.PublicKey{}, err
	}
	return ledger.PublicKey(pk), nil
}

// peerOf is keyOf's inverse: the peer whose ID embeds ledger key k.
func peerOf(k ledger.PublicKey) (dsn.PeerID, error) { return p2p.PeerIDOf(k[:]) }

func newHost(ctx context.Context, r *Repo, key crypto.PrivKey, server bool, log *slog.Logger) (*p2p.Host, error) {
	h, err := p2p.New(ctx, key, p2p.Config{
		ListenAddrs: r.Config.Listen,
		Bootstrap:   r.Config.Bootstrap,
		PeersFile:   r.Path(PeersFile),
		MDNS:        r.Config.MDNS,
		Server:      server,
		Logger:      log.With("component", "p2p"),
	})
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	return h, nil
}

// Session is a temporary node for one command, run from a repo whose daemon
// is not running: a DHT client with the repo's identity and config that
// serves nothing.
type Session struct {
	Client *node.Client
	repo   *Repo
	host   *p2p.Host
	log    *slog.Logger
	files  *owned.DB
	key    *compact.Key
	book   *book.Book
}

// OpenSession starts a temporary node from the repo in dir and bootstraps
// it. It holds the repo's lock until Close, so a daemon cannot start on the
// repo meanwhile.
func OpenSession(ctx context.Context, dir string, ov Overrides, log *slog.Logger) (*Session, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r, err := OpenRepo(dir)
	if err != nil {
		return nil, err
	}
	if r.Config, err = ov.Apply(r.Config); err != nil {
		r.Close()
		return nil, fmt.Errorf("session: %w", err)
	}
	key, err := p2p.LoadOrCreateKey(r.Path(KeyFile))
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("identity: %w", err)
	}
	pk, err := proofKey(key)
	if err != nil {
		r.Close()
		return nil, err
	}
	files, err := owned.Open(r.Path(FilesDir), log.With("component", "owned"))
	if err != nil {
		r.Close()
		return nil, err
	}
	h, err := newHost(ctx, r, key, false, log)
	if err != nil {
		files.Close()
		r.Close()
		return nil, err
	}
	lk, err := ledgerKey(key)
	if err != nil {
		h.Close()
		files.Close()
		r.Close()
		return nil, err
	}
	b, err := book.Open(r.Path(LedgerDir), lk, book.Options{KeyOf: keyOf, PeerOf: peerOf, Logger: log.With("component", "ledger"), Terms: r.Config.Terms()})
	if err != nil {
		h.Close()
		files.Close()
		r.Close()
		return nil, err
	}
	s := &Session{repo: r, host: h, log: log, files: files, key: pk, book: b}
	if err := h.Bootstrap(ctx); err != nil {
		log.Warn("bootstrap", "err", err)
	}
	s.Client = node.NewClient(h, node.ClientOptions{Router: h, Logger: log.With("component", "client"), ProofKey: pk, Book: b})
	return s, nil
}

// Audit challenges the holder of every shard of the file ref names, now,
// with scheme ("" chooses: compact for a file this repo stored, merkle
// otherwise).
func (s *Session) Audit(ctx context.Context, ref manifest.Reference, scheme string) (*api.AuditResult, error) {
	a := auditor{client: s.Client, files: s.files, key: s.key, peerString: p2p.PeerIDString,
		period: s.repo.Config.EpochOrDefault(), log: s.log}
	scheme, mine, err := a.resolve(ref, scheme)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return a.audit(ctx, ref, scheme, mine)
}

// Store stores a file through the temporary node and records it among the
// repo's files, so that the daemon audits it once it runs.
func (s *Session) Store(ctx context.Context, r io.Reader, opts node.StoreOptions) (*node.StoreResult, error) {
	res, err := s.Client.Store(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	if err := s.files.Add(ownedFile(res)); err != nil {
		return nil, fmt.Errorf("store: stored, but not recorded for audits: %w", err)
	}
	return res, nil
}

// WaitForPeers waits up to timeout for n peers in the routing table. It
// returns the number there are when it gives up, with an error only when
// there are none at all: with fewer than wanted a store may still find
// enough providers, and its own error says so if not.
func (s *Session) WaitForPeers(ctx context.Context, n int, timeout time.Duration) (int, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := s.host.WaitForPeers(wctx, n)
	have := s.host.RoutingTableSize()
	if err != nil && have == 0 {
		if ctx.Err() != nil {
			return 0, context.Cause(ctx)
		}
		return 0, fmt.Errorf("no peers found within %v (check the bootstrap list in %s): %w", timeout, s.repo.Path(ConfigFile), err)
	}
	return have, nil
}

// Close saves the peers seen, stops the node and releases the repo.
func (s *Session) Close() error {
	var errs []error
	if err := s.host.SavePeers(); err != nil {
		errs = append(errs, fmt.Errorf("save peers: %w", err))
	}
	if err := s.host.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close host: %w", err))
	}
	if err := s.files.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close owner records: %w", err))
	}
	if err := s.book.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close ledger: %w", err))
	}
	if err := s.repo.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// OpenLedger opens the ledger of the repo in dir for a command run while
// no daemon does: it holds the repo's lock until close is called.
func OpenLedger(dir string) (l *ledger.Log, close func() error, err error) {
	r, err := OpenRepo(dir)
	if err != nil {
		return nil, nil, err
	}
	key, err := p2p.LoadOrCreateKey(r.Path(KeyFile))
	if err == nil {
		var lk ed25519.PrivateKey
		if lk, err = ledgerKey(key); err == nil {
			l, err = ledger.Open(r.Path(LedgerDir), lk, nil)
		}
	}
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return l, func() error { return errors.Join(l.Close(), r.Close()) }, nil
}

// ownedFile is the owner's record of a file it has just stored. A public
// file's repair capability cannot be derived from its reference (there is
// no key in it), so the record keeps it: without it no new version could
// be signed after a repair.
func ownedFile(res *node.StoreResult) owned.File {
	f := owned.File{Reference: res.Reference, Manifest: res.Manifest, Stored: time.Now()}
	if res.Reference.Key == nil {
		rc := res.RepairCap
		f.Cap = &rc
	}
	return f
}
