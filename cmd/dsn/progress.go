package main

import (
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// progress is a progress bar on stderr when stderr is a terminal, and
// nothing otherwise, so that logs and pipes stay clean.
type progress struct{ bar *progressbar.ProgressBar }

func newProgress(cmd *cobra.Command, total int64, what string) progress {
	f, ok := cmd.ErrOrStderr().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || total <= 0 {
		return progress{}
	}
	return progress{progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p progress) set(n int64) {
	if p.bar != nil {
		p.bar.Set64(n)
	}
}

func (p progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
