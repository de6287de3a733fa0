package p2p

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dsn-project/dsn/internal/atomicfile"
)

// The peers file is JSON, small enough to read and edit by hand:
//
//	{"version":1,"peers":[{"id":"12D3Koo...","addrs":["/ip4/10.0.0.2/tcp/4001"]}]}
//
// Peers are listed best first. Everything about it is bounded, since a
// damaged file must not stop a node from starting.
const (
	peersFileVersion = 1
	// MaxSavedPeers bounds how many peers SavePeers writes and the decoder
	// accepts.
	MaxSavedPeers = 64
	// maxAddrsPerPeer bounds the addresses kept for one peer.
	maxAddrsPerPeer = 16
	// maxAddrLen bounds one address in text form, as the file spells it.
	maxAddrLen = 512
	// maxPeersFileSize bounds the file: 64 peers of 16 long addresses fit.
	maxPeersFileSize = 1 << 20
)

// ErrBadPeersFile is returned when a peers file is not valid: not JSON,
// an unknown version, too large, too many peers or addresses, or an entry
// whose peer ID or address does not parse.
var ErrBadPeersFile = errors.New("malformed peers file")

type peersFile struct {
	Version int         `json:"version"`
	Peers   []peerEntry `json:"peers"`
}

type peerEntry struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// encodePeers returns the file form of ps, keeping at most MaxSavedPeers
// peers and maxAddrsPerPeer addresses each, leaving out relay addresses,
// and skipping peers without addresses (they could not be dialled from the
// file alone).
func encodePeers(ps []peer.AddrInfo) ([]byte, error) {
	f := peersFile{Version: peersFileVersion, Peers: []peerEntry{}}
	for _, p := range ps {
		if len(f.Peers) == MaxSavedPeers {
			break
		}
		e := peerEntry{ID: p.ID.String()}
		for _, a := range p.Addrs {
			if len(e.Addrs) == maxAddrsPerPeer {
				break
			}
			// A relay address (/p2p/<relay>/p2p-circuit) names another
			// peer, which the file's one-peer-per-entry rule forbids; the
			// relay is found again through the DHT.
			if _, err := a.ValueForProtocol(ma.P_P2P); err == nil {
				continue
			}
			// The bound holds for the address as the file spells it:
			// JSON escapes '<', '>', '&' and control bytes to six
			// bytes each, and a file that only fits its bound before
			// escaping would be refused whole at the next start.
			if s := a.String(); len(s) <= maxAddrLen && jsonLen(s) <= maxAddrLen {
				e.Addrs = append(e.Addrs, s)
			}
		}
		if len(e.Addrs) > 0 {
			f.Peers = append(f.Peers, e)
		}
	}
	b, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// jsonLen is the length of s as a JSON string, quotes left out.
func jsonLen(s string) int {
	b, err := json.Marshal(s)
	if err != nil {
		return len(s)
	}
	return len(b) - 2
}

// decodePeers parses a peers file. Every failure wraps ErrBadPeersFile and
// says which entry was wrong.
func decodePeers(data []byte) ([]peer.AddrInfo, error) {
	if len(data) > maxPeersFileSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadPeersFile, len(data), maxPeersFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f peersFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPeersFile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrBadPeersFile)
	}
	if f.Version != peersFileVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadPeersFile, f.Version, peersFileVersion)
	}
	if len(f.Peers) > MaxSavedPeers {
		return nil, fmt.Errorf("%w: %d peers, more than %d", ErrBadPeersFile, len(f.Peers), MaxSavedPeers)
	}
	out := make([]peer.AddrInfo, 0, len(f.Peers))
	seen := make(map[peer.ID]bool, len(f.Peers))
	for i, e := range f.Peers {
		id, err := ParsePeerID(e.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: peer %d: %v", ErrBadPeersFile, i, err)
		}
		pid := peer.ID(id)
		if seen[pid] {
			return nil, fmt.Errorf("%w: peer %d: %s listed twice", ErrBadPeersFile, i, e.ID)
		}
		seen[pid] = true
		if len(e.Addrs) == 0 || len(e.Addrs) > maxAddrsPerPeer {
			return nil, fmt.Errorf("%w: peer %d (%s): %d addresses, want 1 to %d", ErrBadPeersFile, i, e.ID, len(e.Addrs), maxAddrsPerPeer)
		}
		ai := peer.AddrInfo{ID: pid, Addrs: make([]ma.Multiaddr, 0, len(e.Addrs))}
		for j, s := range e.Addrs {
			if len(s) > maxAddrLen {
				return nil, fmt.Errorf("%w: peer %d address %d: %d characters, more than %d", ErrBadPeersFile, i, j, len(s), maxAddrLen)
			}
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				return nil, fmt.Errorf("%w: peer %d address %d %q: %v", ErrBadPeersFile, i, j, s, err)
			}
			// The file names the peer once, in "id"; an address that names
			// a peer too could contradict it.
			if _, err := a.ValueForProtocol(ma.P_P2P); err == nil {
				return nil, fmt.Errorf("%w: peer %d address %d %q: must not contain /p2p/", ErrBadPeersFile, i, j, s)
			}
			ai.Addrs = append(ai.Addrs, a)
		}
		out = append(out, ai)
	}
	return out, nil
}

// readPeersFile returns the peers saved at path, or none if the file does
// not exist.
func readPeersFile(path string) ([]peer.AddrInfo, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read peers file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPeersFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read peers file %s: %w", path, err)
	}
	ps, err := decodePeers(data)
	if err != nil {
		return nil, fmt.Errorf("read peers file %s: %w", path, err)
	}
	return ps, nil
}

// writePeersFile replaces path with ps whole (atomicfile.Write), so a
// crash leaves the old list or the new one.
func writePeersFile(path string, ps []peer.AddrInfo) error {
	data, err := encodePeers(ps)
	if err != nil {
		return fmt.Errorf("write peers file %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("write peers file %s: %w", path, err)
	}
	return nil
}
