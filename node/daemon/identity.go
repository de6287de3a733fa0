//go:build !dsnp2p

package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"os"
)

// newIdentity creates the node's key at path and returns its peer ID.
// Placeholder until node/p2p lands.
func newIdentity(path string) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b[:8]), os.WriteFile(path, b, 0o600)
}
