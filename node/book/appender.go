package book

import (
	"context"
	"fmt"
	"sync"

	"github.com/dsn-project/dsn/ledger"
)

// maxGroup bounds the entries one synced write carries.
const maxGroup = 4096

// appender is group commit over a ledger.Log: whoever appends while a
// write is in flight waits for the next one, which carries every entry
// queued meanwhile, so that many concurrent appends cost one fsync.
type appender struct {
	log      *ledger.Log
	onAdded  func(ledger.Entry)
	queue    chan appendReq
	done     chan struct{}
	finished chan struct{} // closed when run has returned
	stop     sync.Once
	wg       sync.WaitGroup
}

type appendReq struct {
	e   ledger.Entry
	err chan error
}

func newAppender(l *ledger.Log, onAdded func(ledger.Entry)) *appender {
	a := &appender{log: l, onAdded: onAdded, queue: make(chan appendReq, maxGroup), done: make(chan struct{}), finished: make(chan struct{})}
	a.wg.Go(func() {
		defer close(a.finished)
		a.run()
	})
	return a
}

func (a *appender) append(ctx context.Context, e ledger.Entry) error {
	r := appendReq{e: e, err: make(chan error, 1)}
	select {
	case a.queue <- r:
	case <-a.done:
		return ledger.ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("append: %w", ctx.Err())
	}
	// Once queued, the entry is written or refused whatever ctx does:
	// waiting for the answer keeps a caller from retrying what may be in.
	select {
	case err := <-r.err:
		return err
	case <-a.finished:
		// Queued as the appender stopped: answered by its drain, or
		// never taken.
		select {
		case err := <-r.err:
			return err
		default:
			return ledger.ErrClosed
		}
	}
}

func (a *appender) run() {
	for {
		var first appendReq
		select {
		case first = <-a.queue:
		case <-a.done:
			a.drain()
			return
		}
		group := []appendReq{first}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-a.queue:
				group = append(group, r)
			default:
				break more
			}
		}
		a.write(group)
	}
}

// write appends a group in one batch. AppendBatch is all or nothing, so
// when it refuses, the entries go one by one and each gets its own answer.
func (a *appender) write(group []appendReq) {
	entries := make([]ledger.Entry, len(group))
	for i, r := range group {
		entries[i] = r.e
	}
	if _, err := a.log.AppendBatch(entries); err == nil {
		for _, r := range group {
			a.onAdded(r.e)
			r.err <- nil
		}
		return
	}
	for _, r := range group {
		_, err := a.log.Append(r.e)
		if err == nil {
			a.onAdded(r.e)
		}
		r.err <- err
	}
}

// drain answers whatever is still queued after close.
func (a *appender) drain() {
	for {
		select {
		case r := <-a.queue:
			r.err <- ledger.ErrClosed
		default:
			return
		}
	}
}

func (a *appender) close() {
	a.stop.Do(func() { close(a.done) })
	a.wg.Wait()
}
