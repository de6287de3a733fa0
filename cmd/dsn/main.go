package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a process exit status for a failure that has already
// been reported.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "dsn:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "dsn",
		Short:         "dsn stores files on a decentralized network of providers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDemoCmd(), newCIDCmd())
	root.AddCommand(newInitCmd(), newNodeCmd(), newStoreCmd(), newRetrieveCmd(), newAuditCmd(), newRepairCmd(), newDealsCmd(), newMarketCmd(), newLedgerCmd(), newStatusCmd(), newSimCmd(), newTestnetCmd())
	return root
}
