package p2p

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsn-project/dsn"
)

// A peer writing into streams whose handler never reads gets only as
// far as the resource manager allows for that peer: the muxer's windows
// stay within what it has reserved.
func TestUnreadStreamsStayWithinPeerMemory(t *testing.T) {
	const peerMem = 8 << 20
	srv := newHost(t, Config{ListenAddrs: []string{tcpLoopback}, Limits: Limits{Memory: 64 << 20, PeerMemory: peerMem}})
	cli := newHost(t, Config{ListenAddrs: []string{tcpLoopback}})
	release := make(chan struct{})
	defer close(release)
	srv.SetStreamHandler("/dsn-test/unread/1", func(s dsn.Stream) { <-release; _ = s.Reset() })
	ctx := testCtx(t)
	if err := cli.Connect(ctx, srv.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	const streams = 24
	var total atomic.Int64
	var wg sync.WaitGroup
	for range streams {
		st, err := cli.NewStream(ctx, srv.Self(), "/dsn-test/unread/1")
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			// Writes block once the server's window is full; the
			// deadline ends them.
			_ = st.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64<<10)
			for {
				n, err := st.Write(buf)
				total.Add(int64(n))
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if total.Load() > 2*peerMem {
		t.Errorf("one peer made the server buffer %d MiB in streams it does not read; its PeerMemory is %d MiB", total.Load()>>20, peerMem>>20)
	}
}
