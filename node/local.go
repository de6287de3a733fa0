package node

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/inproc"
	"github.com/dsn-project/dsn/node/shardproto"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/node/shardstore/memstore"
)

// Provider is a peer that keeps shards for others: a shard store served
// over the shard protocol.
type Provider struct {
	ID     dsn.PeerID
	Dir    string // "" for an in-memory provider
	Store  dsn.ShardStore
	Server *shardproto.Server
}

// ServeProvider serves store over t.
func ServeProvider(t dsn.Transport, dir string, store dsn.ShardStore, log *slog.Logger) *Provider {
	srv := shardproto.NewServer(store, shardproto.ServerOptions{Logger: log})
	srv.Register(t)
	return &Provider{ID: t.Self(), Dir: dir, Store: store, Server: srv}
}

// LocalNetwork is a network of providers in one process over the in-process
// transport, each with its own shard store on disk, plus one client peer
// that holds nothing. It is what `dsn demo` and whole-network tests run on.
type LocalNetwork struct {
	Net       *inproc.Network
	Providers []*Provider
	Client    *Client
	ClientID  dsn.PeerID
}

// LocalOptions configures a LocalNetwork.
type LocalOptions struct {
	// Capacity of each provider in bytes; 0 means unlimited.
	Capacity int64
	// Memory keeps shards in memory instead of on disk (dir is unused).
	Memory bool
	Logger *slog.Logger
	Client ClientOptions
}

// StartLocalNetwork starts n providers with their stores under dir.
func StartLocalNetwork(dir string, n int, opts LocalOptions) (*LocalNetwork, error) {
	if n < 1 || n > 1000 {
		return nil, fmt.Errorf("local network: %d providers is out of range [1, 1000]", n)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &LocalNetwork{Net: inproc.NewNetwork()}
	// Stores open in parallel: opening is mostly waiting for fsync.
	stores := make([]dsn.ShardStore, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		if opts.Memory {
			stores[i] = memstore.New(opts.Capacity)
			continue
		}
		wg.Go(func() {
			stores[i], errs[i] = shardstore.Open(filepath.Join(dir, providerID(i)), shardstore.Options{Capacity: opts.Capacity})
		})
	}
	wg.Wait()
	for i, st := range stores {
		id := dsn.PeerID(providerID(i))
		if errs[i] != nil {
			errs[i] = fmt.Errorf("local network: %s: %w", id, errs[i])
			continue
		}
		pdir := filepath.Join(dir, providerID(i))
		if opts.Memory {
			pdir = ""
		}
		l.Providers = append(l.Providers, ServeProvider(l.Net.Add(id), pdir, st, log.With("peer", id)))
	}
	if err := errors.Join(errs...); err != nil {
		for _, st := range stores {
			if st != nil {
				st.Close()
			}
		}
		return nil, err
	}
	l.ClientID = "client"
	copts := opts.Client
	if copts.Logger == nil {
		copts.Logger = log.With("peer", l.ClientID)
	}
	l.Client = NewClient(l.Net.Add(l.ClientID), copts)
	return l, nil
}

func providerID(i int) string { return fmt.Sprintf("provider-%02d", i+1) }

// Provider returns the provider with the given ID, or nil.
func (l *LocalNetwork) Provider(id dsn.PeerID) *Provider {
	for _, p := range l.Providers {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// Kill takes a provider off the network: it no longer answers, and its
// open transfers fail.
func (l *LocalNetwork) Kill(id dsn.PeerID) { l.Net.Kill(id) }

// Close closes every provider's store.
func (l *LocalNetwork) Close() error {
	errs := make([]error, len(l.Providers))
	var wg sync.WaitGroup
	for i, p := range l.Providers {
		wg.Go(func() {
			if err := p.Store.Close(); err != nil {
				errs[i] = fmt.Errorf("%s: %w", p.ID, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
