package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node"
	"github.com/dsn-project/dsn/node/book"
	"github.com/dsn-project/dsn/node/ledgerproto"
	"github.com/dsn-project/dsn/node/p2p"
)

// Repo entries of the ledger.
const (
	LedgerDir  = "ledger"  // the node's signed log (pebble)
	WitnessDir = "witness" // other nodes' latest checkpoints, and evidence
)

// CheckpointTopic is the gossip topic nodes publish their ledger
// checkpoints on.
const CheckpointTopic = "/dsn/ledger/checkpoints/1"

// checkpointEvery bounds how long a node goes without publishing its
// checkpoint, whatever its epoch.
const checkpointEvery = 10 * time.Minute

// openLedger opens the node's ledger and witness and serves the ledger
// protocol.
func (d *Daemon) openLedger() error {
	opts := book.Options{KeyOf: d.opts.KeyOf, PeerOf: d.opts.PeerOf, Logger: d.log.With("component", "ledger"), Terms: d.repo.Config.Terms()}
	if d.store != nil {
		st := d.store
		opts.Holds = func(ctx context.Context, id dsn.ShardID) (int64, error) { return st.StatShard(ctx, id) }
	}
	b, err := book.Open(d.repo.Path(LedgerDir), d.opts.LedgerKey, opts)
	if err != nil {
		return err
	}
	w, err := book.OpenWitness(d.repo.Path(WitnessDir))
	if err != nil {
		b.Close()
		return err
	}
	d.book, d.witness = b, w
	d.ledgerSrv = node.ServeLedger(d.host, b, d.log.With("component", "ledgerproto"))
	return nil
}

// gossiper is a host that can gossip: the libp2p host.
type gossiper interface {
	Join(name string) (*p2p.Topic, error)
}

// gossipCheckpoints publishes this node's checkpoint every epoch (at
// most checkpointEvery apart) and checks every checkpoint other nodes
// publish against the last one seen from them.
func (d *Daemon) gossipCheckpoints(ctx context.Context) {
	g, ok := d.host.(gossiper)
	if !ok || d.book == nil {
		return
	}
	topic, err := g.Join(CheckpointTopic)
	if err != nil {
		d.log.Warn("checkpoint gossip off", "err", err)
		return
	}
	var watch sync.WaitGroup
	defer func() {
		// Closing the topic ends the watcher; wait for it, so that
		// nothing touches the ledger once the daemon has stopped.
		topic.Close()
		watch.Wait()
	}()
	watch.Go(func() { d.watchCheckpoints(ctx, topic) })
	every := min(d.repo.Config.EpochOrDefault(), checkpointEvery)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		d.publishCheckpoint(ctx, topic)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Daemon) publishCheckpoint(ctx context.Context, topic *p2p.Topic) {
	note, err := d.book.Checkpoint(ctx)
	if err != nil {
		d.log.Error("ledger checkpoint", "err", err)
		return
	}
	if err := topic.Publish(ctx, note); err != nil && ctx.Err() == nil {
		d.log.Debug("publish checkpoint", "err", err)
	}
}

// watchCheckpoints checks what others publish. A checkpoint that forks
// its node's history is logged loudly; the evidence is kept by the
// witness and shown by status.
func (d *Daemon) watchCheckpoints(ctx context.Context, topic *p2p.Topic) {
	for {
		from, note, err := topic.Next(ctx)
		if err != nil {
			return
		}
		key, err := d.opts.KeyOf(from)
		if err != nil {
			continue
		}
		prove := func(ctx context.Context, old, new int64) (tlog.TreeProof, error) {
			return ledgerproto.FetchConsistency(ctx, d.host, from, old, new)
		}
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = d.witness.Observe(octx, key, note, prove)
		cancel()
		switch {
		case errors.Is(err, ledger.ErrFork):
			d.log.Error("ledger fork: a node published two histories; it is distrusted", "peer", d.opts.PeerString(from), "err", err)
		case err != nil && ctx.Err() == nil:
			d.log.Debug("checkpoint not checked", "peer", d.opts.PeerString(from), "err", err)
		}
	}
}

// Ledger is the node's ledger, or nil.
func (d *Daemon) Ledger() *book.Book { return d.book }

// ledgerStatus summarises the ledger for status.
func (d *Daemon) ledgerStatus() (size int64, witnessed int, distrusted []string) {
	if d.book == nil {
		return 0, 0, nil
	}
	for _, e := range d.witness.Distrusted() {
		distrusted = append(distrusted, fmt.Sprintf("%s (%s)", e.Node, e.Reason))
	}
	return d.book.Log().Size(), d.witness.Known(), distrusted
}

// renewDeals looks after this node's deals as a client (node.RenewDeals):
// those ending soon that still hold a shard of one of its files are
// renewed, those past their end are ended as expired. It runs once an
// epoch, with node.RenewHorizon's horizon for that interval.
func (d *Daemon) renewDeals(ctx context.Context) {
	if d.book == nil || d.opts.KeyOf == nil {
		return
	}
	files, err := d.files.Files(func(k []byte, err error) {
		d.log.Error("owner record unreadable; its deals are not renewed", "key", fmt.Sprintf("%x", k), "err", err)
	})
	if err != nil {
		d.log.Warn("renew deals", "err", err)
		return
	}
	type held struct {
		shard    dsn.ShardID
		provider ledger.PublicKey
	}
	wanted := map[held]bool{}
	for _, f := range files {
		for _, seg := range f.Manifest.Segments {
			for _, sh := range seg.Shards {
				if k, err := d.opts.KeyOf(sh.Provider); err == nil {
					wanted[held{sh.ID, k}] = true
				}
			}
		}
	}
	horizon := node.RenewHorizon(d.repo.Config.EpochOrDefault(), d.repo.Config.Terms().DealDuration)
	r, err := d.client.RenewDeals(ctx, time.Now(), node.RenewOptions{
		Horizon: horizon,
		Keep:    func(dl *ledger.Deal) bool { return wanted[held{dl.Shard, dl.Provider}] },
	})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("renew deals", "err", err)
		}
		return
	}
	if r != (node.Renewals{}) {
		d.log.Info("deals looked after", "renewed", r.Renewed, "refused", r.Refused, "declined", r.Declined, "expired", r.Expired, "failed", r.Failed)
	}
}
