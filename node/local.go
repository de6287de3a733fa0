package node

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/inproc"
	"github.com/dsn-project/dsn/node/shardproto"
	"github.com/dsn-project/dsn/node/shardstore"
)

// Provider is a peer that keeps shards for others: a shard store served
// over the shard protocol.
type Provider struct {
	ID     dsn.PeerID
	Dir    string
	Store  *shardstore.Store
	Server *shardproto.Server
}

// ServeProvider serves store over t.
func ServeProvider(t dsn.Transport, dir string, store *shardstore.Store, log *slog.Logger) *Provider {
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
	Logger   *slog.Logger
	Client   ClientOptions
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
	for i := range n {
		id := dsn.PeerID(fmt.Sprintf("provider-%02d", i+1))
		pdir := filepath.Join(dir, string(id))
		st, err := shardstore.Open(pdir, shardstore.Options{Capacity: opts.Capacity})
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("local network: %s: %w", id, err)
		}
		l.Providers = append(l.Providers, ServeProvider(l.Net.Add(id), pdir, st, log.With("peer", id)))
	}
	l.ClientID = "client"
	copts := opts.Client
	if copts.Logger == nil {
		copts.Logger = log.With("peer", l.ClientID)
	}
	l.Client = NewClient(l.Net.Add(l.ClientID), copts)
	return l, nil
}

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
	var errs []error
	for _, p := range l.Providers {
		if err := p.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.ID, err))
		}
	}
	return errors.Join(errs...)
}
