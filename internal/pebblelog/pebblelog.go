// Package pebblelog sends pebble's log lines to slog, for every package
// that keeps a pebble database. Routine messages go to Debug, so that a
// node stays quiet at the default level.
package pebblelog

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// New returns a pebble.Logger writing to log, tagged with component.
func New(log *slog.Logger, component string) pebble.Logger {
	return logger{log, component}
}

type logger struct {
	log       *slog.Logger
	component string
}

func (l logger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", l.component)
}

func (l logger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", l.component)
}

// Fatalf must not return (pebble's contract): pebble calls it on broken
// invariants, where continuing could corrupt the database.
func (l logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "component", l.component, "fatal", true)
	panic("pebble: " + msg)
}
