package p2p

import (
	"os"
	"testing"
)

// TestMain runs the test binary as a node agent instead of as tests when
// the netns tests start it inside a network namespace (see agent_test.go).
func TestMain(m *testing.M) {
	if cfg, ok := os.LookupEnv(agentEnv); ok {
		os.Exit(runAgent(cfg))
	}
	os.Exit(m.Run())
}
