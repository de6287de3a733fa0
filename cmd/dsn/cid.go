package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/dsn-project/dsn/chunker"
)

func newCIDCmd() *cobra.Command {
	var spec string
	cmd := &cobra.Command{
		Use:   "cid FILE",
		Short: "Print a file's root CID without storing anything",
		Long: `Prints the root CID of FILE's plaintext: CIDv1, raw leaves, BLAKE3, balanced
UnixFS DAG. It is the identifier IPFS tooling prints for the same file with
--cid-version=1 --raw-leaves --hash=blake3 --chunker=size-1048576, and the one
dsn checks every retrieval against.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			root, err := chunker.RootCID(bufio.NewReaderSize(f, 1<<20), spec)
			if err != nil {
				return fmt.Errorf("cid %s: %w", args[0], err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), root)
			return nil
		},
	}
	cmd.Flags().StringVar(&spec, "chunker", chunker.DefaultSpec, `chunker: "size-N" or "buzhash"`)
	return cmd
}
