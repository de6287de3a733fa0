package node

import (
	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/manifest"
)

// DataHolders returns up to n distinct providers holding shards of the
// file, taken in manifest order: the first segment's data shards first.
// Losing them forces a retrieval to rebuild data from parity, the hard case
// worth showing and testing.
func DataHolders(m *manifest.Manifest, n int) []dsn.PeerID {
	var out []dsn.PeerID
	seen := map[dsn.PeerID]bool{}
	for _, seg := range m.Segments {
		for _, sh := range seg.Shards {
			if len(out) == n {
				return out
			}
			if !seen[sh.Provider] {
				seen[sh.Provider] = true
				out = append(out, sh.Provider)
			}
		}
	}
	return out
}
