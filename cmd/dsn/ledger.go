package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dsn-project/dsn/ledger"
	"github.com/dsn-project/dsn/node/daemon"
	"github.com/dsn-project/dsn/node/daemon/api"
)

// exitLedgerInvalid is the exit status of a ledger that fails
// verification.
const exitLedgerInvalid = 4

func newLedgerCmd() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Show, verify and prove the node's signed ledger",
		Long: `ledger reads the node's ledger: the signed, append-only log of its deals,
the receipts for bytes it served, the credits and penalties of its audits, and
the ends of deals (expired, failed with the provider's collateral forfeited,
or cancelled) (docs/ledger.md). It goes through the repo's daemon when one runs, and opens the
ledger itself otherwise.`,
	}
	cmd.PersistentFlags().StringVar(&repo, "repo", "", "repo directory (default $DSN_REPO, else ~/.dsn)")
	cmd.AddCommand(newLedgerBalanceCmd(&repo), newLedgerShowCmd(&repo), newLedgerVerifyCmd(&repo), newLedgerProveCmd(&repo))
	return cmd
}

// withLedger runs viaAPI against the repo's daemon, or offline against
// the ledger opened directly when no daemon runs.
func withLedger(cmd *cobra.Command, repo string, viaAPI func(*api.Client) error, offline func(*ledger.Log) error) error {
	dir, err := repoDir(repo)
	if err != nil {
		return err
	}
	c, err := api.Dial(cmd.Context(), dir)
	if err == nil {
		return viaAPI(c)
	}
	if !errors.Is(err, api.ErrNoDaemon) {
		return err
	}
	l, closeLedger, err := daemon.OpenLedger(dir)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer closeLedger()
	return offline(l)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newLedgerBalanceCmd(repo *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "balance",
		Short: "What each party has earned and owes, by this node's ledger",
		Long: `balance folds the verified entries of the node's ledger into accounts, in
nano-units: for providers, space earned (audited epochs × bytes × price),
bytes served and bandwidth earned (receipts × price), penalties; for clients,
what they owe for space and bandwidth and the compensation they received.
Penalties and compensation include the collateral of failed deals, forfeited
once, by the entry that ends the deal; the FORFEITED column shows that part
(lost as a provider, received as a client).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var b *api.Balance
			err := withLedger(cmd, *repo, func(c *api.Client) (err error) {
				b, err = c.LedgerBalance(cmd.Context())
				return err
			}, func(l *ledger.Log) (err error) {
				b, err = daemon.Balance(l)
				return err
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, b)
			}
			fmt.Fprintf(out, "ledger of %s, %d entries; amounts in nano-units\n", b.Self[:16], b.Entries)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "PARTY\tSPACE EARNED\tSERVED\tBANDWIDTH EARNED\tPENALTIES\tFORFEITED\tSPACE OWED\tBANDWIDTH OWED\tCOMPENSATION\t")
			for _, a := range b.Accounts {
				who := a.Party[:16]
				if a.Party == b.Self {
					who += " (this node)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", who, a.SpaceEarned, formatBytes(int64(a.BytesServed)),
					a.BandwidthEarned, a.Penalties, a.Forfeits+a.ForfeitsReceived, a.SpaceOwed, a.BandwidthOwed, a.Compensation)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func newLedgerShowCmd(repo *string) *cobra.Command {
	var (
		asJSON      bool
		from, limit int64
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "List the ledger's entries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from < 0 || limit < 1 || limit > api.MaxLedgerPage {
				return fmt.Errorf("ledger show: --from must be >= 0 and --limit in [1, %d]", api.MaxLedgerPage)
			}
			var es *api.Entries
			err := withLedger(cmd, *repo, func(c *api.Client) (err error) {
				es, err = c.LedgerEntries(cmd.Context(), from, limit)
				return err
			}, func(l *ledger.Log) (err error) {
				es, err = daemon.Entries(l, from, limit)
				return err
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, es)
			}
			for _, e := range es.Entries {
				fmt.Fprintf(out, "%6d  %-8s %s\n", e.Index, e.Kind, summarize(e.Fields))
			}
			fmt.Fprintf(out, "%d of %d entries from %d\n", len(es.Entries), es.Size, from)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().Int64Var(&from, "from", 0, "first entry")
	cmd.Flags().Int64Var(&limit, "limit", 100, "entries to list")
	return cmd
}

func newLedgerVerifyCmd(repo *string) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check every signature, rule and tree hash, and every published checkpoint",
		Long: `verify re-reads the whole ledger as a stranger would: every entry's
signatures and rules, the Merkle tree recomputed from the entries, and every
checkpoint the node has published. It names the first bad index.
Exit status: 0 when the ledger checks out, 4 when it does not, 1 on other errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var v *api.Verified
			err := withLedger(cmd, *repo, func(c *api.Client) (err error) {
				v, err = c.LedgerVerify(cmd.Context())
				return err
			}, func(l *ledger.Log) error {
				sum, err := l.Verify(cmd.Context())
				if err != nil {
					var ve *ledger.VerifyError
					if errors.As(err, &ve) {
						return &api.RemoteError{Code: api.CodeLedgerInvalid, Message: err.Error()}
					}
					return err
				}
				v = &api.Verified{Entries: sum.Entries, Checkpoints: sum.Checkpoints}
				return nil
			})
			var re *api.RemoteError
			if errors.As(err, &re) && re.Code == api.CodeLedgerInvalid {
				fmt.Fprintf(cmd.OutOrStdout(), "ledger INVALID: %s\n", re.Message)
				return exitError{exitLedgerInvalid}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ledger OK: %d entries, %d checkpoints checked\n", v.Entries, v.Checkpoints)
			return nil
		},
	}
}

func newLedgerProveCmd(repo *string) *cobra.Command {
	return &cobra.Command{
		Use:   "prove INDEX",
		Short: "Print an inclusion proof of one entry that another node can check",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			i, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || i < 0 {
				return fmt.Errorf("ledger prove: %q is not an entry index", args[0])
			}
			var p *api.Proof
			err = withLedger(cmd, *repo, func(c *api.Client) (err error) {
				p, err = c.LedgerProve(cmd.Context(), i)
				return err
			}, func(l *ledger.Log) (err error) {
				if i >= l.Size() {
					return fmt.Errorf("ledger prove: entry %d: the ledger has %d", i, l.Size())
				}
				p, err = daemon.Prove(l, i)
				return err
			})
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), p)
		},
	}
}

// summarize renders an entry's fields on one line: signatures left out,
// keys and hashes cut to 12 hex digits (the JSON output has them whole).
func summarize(fields json.RawMessage) string {
	var m map[string]any
	if err := json.Unmarshal(fields, &m); err != nil {
		return string(fields)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasSuffix(k, "_sig") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := m[k]
		switch x := v.(type) {
		case string:
			if len(x) == 64 {
				v = x[:12]
			}
		case []any:
			for i, s := range x {
				if str, ok := s.(string); ok && len(str) == 64 {
					x[i] = str[:12]
				}
			}
		case float64:
			v = strconv.FormatFloat(x, 'f', -1, 64)
		}
		fmt.Fprintf(&b, "%s=%v ", k, v)
	}
	return strings.TrimSpace(b.String())
}
