package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dsn-project/dsn/manifest"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// exitAuditFailed is the exit status of an audit in which a shard failed
// or missed its challenge: distinct from 1, which means the audit itself
// could not run.
const exitAuditFailed = 3

type auditFlags struct {
	repo   string
	scheme string
	json   bool
}

func newAuditCmd() *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit REF",
		Short: "Challenge the providers of every shard of a file now",
		Long: `audit challenges the provider of every shard of the file REF names to prove,
now, that it still holds the shard, and prints one line per shard: segment,
shard, provider, scheme, result (pass, fail or missed), latency and proof size.

The compact scheme (a few KB per proof) can be checked only by the node that
stored the file; the merkle scheme by anyone who has the reference. By default
audit uses compact for the repo's own files and merkle for others.

Exit status: 0 when every shard passed, 3 when any failed or missed its
challenge, 1 when the audit could not run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runAudit(cmd, f, args[0]) },
	}
	fl := cmd.Flags()
	addRepoFlag(fl, &f.repo)
	fl.StringVar(&f.scheme, "scheme", "", "merkle or compact (default: compact for the repo's own files)")
	fl.BoolVar(&f.json, "json", false, "print the results as JSON")
	return cmd
}

func runAudit(cmd *cobra.Command, f auditFlags, refText string) error {
	ref, err := manifest.ParseReference(refText)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	dir, err := repoDir(f.repo)
	if err != nil {
		return err
	}
	c, s, err := connect(cmd, dir)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	var res *api.AuditResult
	if c != nil {
		res, err = c.Audit(cmd.Context(), api.AuditRequest{Reference: refText, Scheme: f.scheme})
	} else {
		defer s.Close()
		if _, err := s.WaitForPeers(cmd.Context(), retrievePeers, sessionPeerWait); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		res, err = s.Audit(cmd.Context(), ref, f.scheme)
	}
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEGMENT\tSHARD\tPROVIDER\tSCHEME\tRESULT\tLATENCY\tPROOF\tREASON")
		for _, a := range res.Shards {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%.1f ms\t%s\t%s\n", a.Segment, a.Shard, shortPeer(a.Provider), a.Scheme, a.Result, a.LatencyMS, formatBytes(int64(a.ProofBytes)), a.Reason)
		}
		tw.Flush()
	}
	bad := 0
	for _, a := range res.Shards {
		if a.Result != api.ResultPass {
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "audit: %d of %d shards did not pass\n", bad, len(res.Shards))
		return exitError{exitAuditFailed}
	}
	return nil
}

// shortPeer abbreviates a peer ID for a table: the tail of a libp2p ID is
// where its digits differ.
func shortPeer(p string) string {
	if len(p) <= 16 {
		return p
	}
	return "…" + p[len(p)-12:]
}
