package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// retrievePeers is how many peers a temporary node waits for before it
// looks for a manifest.
const retrievePeers = 4

type retrieveFlags struct {
	repo  string
	out   string
	force bool
}

func newRetrieveCmd() *cobra.Command {
	var f retrieveFlags
	cmd := &cobra.Command{
		Use:   "retrieve REF -o OUT",
		Short: "Retrieve a file by its reference",
		Long: `retrieve fetches the file a reference names from the providers that hold its
shards, checks it against its root CID, and writes it to OUT. OUT appears only
once the whole file has been verified; an existing OUT is replaced only with
--force.

retrieve goes through the repo's daemon when one runs (the daemon writes OUT,
so both must be on the same machine), else it starts a temporary node.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRetrieve(cmd, f, args[0]) },
	}
	fl := cmd.Flags()
	addRepoFlag(fl, &f.repo)
	fl.StringVarP(&f.out, "output", "o", "", "file to write (required)")
	fl.BoolVar(&f.force, "force", false, "replace OUT if it exists")
	cmd.MarkFlagRequired("output")
	return cmd
}

func runRetrieve(cmd *cobra.Command, f retrieveFlags, refText string) error {
	ref, err := manifest.ParseReference(refText)
	if err != nil {
		return fmt.Errorf("retrieve: %w", err)
	}
	out, err := filepath.Abs(f.out)
	if err != nil {
		return fmt.Errorf("retrieve: %w", err)
	}
	dir, err := repoDir(f.repo)
	if err != nil {
		return err
	}
	c, s, err := connect(cmd, dir)
	if err != nil {
		return fmt.Errorf("retrieve: %w", err)
	}
	var size int64
	var root string
	if c != nil {
		var bar progress
		res, err := c.Retrieve(cmd.Context(), api.RetrieveRequest{Reference: refText, Path: out, Force: f.force}, func(p api.Progress) {
			if bar.bar == nil {
				bar = newProgress(cmd, p.Total, "retrieving")
			}
			bar.set(p.Done)
		})
		bar.done()
		if err != nil {
			return err
		}
		size, root = res.Size, res.Root
	} else {
		defer s.Close()
		if _, err := s.WaitForPeers(cmd.Context(), retrievePeers, sessionPeerWait); err != nil {
			return fmt.Errorf("retrieve: %w", err)
		}
		var bar progress
		m, err := s.Client.RetrieveFile(cmd.Context(), ref, out, f.force, func(done, total int64) {
			if bar.bar == nil {
				bar = newProgress(cmd, total, "retrieving")
			}
			bar.set(done)
		})
		bar.done()
		if err != nil {
			return err
		}
		size, root = m.Size, m.Root.String()
	}
	fmt.Fprintf(cmd.OutOrStdout(), "retrieved %s to %s (root %s)\n", formatBytes(size), out, root)
	return nil
}
