//go:build unix

package daemon

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsn-project/dsn/node/daemon/api"
)

// A FIFO with no writer is refused at once, and again: opening it as a
// file would hold each request, and a transfer slot, until a writer came,
// and a few such requests would turn every later store away as busy.
func TestAPIStoreRefusesFIFO(t *testing.T) {
	n := newTestNet(t, 2)
	_, r, _ := n.startDaemon(t, "client", 0, APIOptions{})
	ctx := ctxT(t)
	c, err := api.Dial(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for i := range 6 {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.StoreFile(fctx, fifo, api.StoreOptions{}, nil)
		cancel()
		if re := remote(err); re == nil || re.Code != api.CodeUnreadable || !strings.Contains(re.Message, "not a regular file") {
			t.Fatalf("StoreFile of a FIFO with no writer, try %d = %v, want %s at once", i+1, err, api.CodeUnreadable)
		}
	}
}
