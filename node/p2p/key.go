package p2p

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/crypto/pb"
)

// keyPEMType names the PEM block of a key file. The block holds the
// libp2p protobuf encoding of the private key (crypto.MarshalPrivateKey),
// the same bytes IPFS keeps base64-encoded in its config, so the key can be
// moved between tools.
const keyPEMType = "DSN IDENTITY KEY"

// maxKeyFileSize bounds what LoadOrCreateKey reads. An Ed25519 key file is
// about 160 bytes.
const maxKeyFileSize = 4 << 10

var (
	// ErrBadKeyFile is returned by LoadOrCreateKey when the key file exists
	// but is not a dsn identity key: not PEM, wrong block type, trailing
	// data, an undecodable key, or a key type other than Ed25519.
	ErrBadKeyFile = errors.New("malformed identity key file")
	// ErrKeyPermissions is returned by LoadOrCreateKey when the key file can
	// be read or written by users other than its owner.
	ErrKeyPermissions = errors.New("identity key file is accessible by other users")
)

// LoadOrCreateKey returns the Ed25519 identity key stored at path, creating
// it (mode 0600, with missing parent directories 0700) if the file does not
// exist. Two processes creating the same key at once end up with the same
// key: the file appears atomically and only the first one is kept.
func LoadOrCreateKey(path string) (crypto.PrivKey, error) {
	k, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create identity key %s: %w", path, err)
	}
	k, _, err = crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create identity key %s: %w", path, err)
	}
	data, err := encodeKey(k)
	if err != nil {
		return nil, fmt.Errorf("create identity key %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return nil, fmt.Errorf("create identity key %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; Chmod says so for readers.
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(data)
		if err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("create identity key %s: %w", path, err)
	}
	// Link, unlike Rename, fails when path exists: a concurrent creator
	// that got there first wins and everyone loads its key.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadKey(path)
		}
		return nil, fmt.Errorf("create identity key %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return k, nil
}

func loadKey(path string) (crypto.PrivKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load identity key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load identity key %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("load identity key %s: %w (mode %04o); run chmod 600 on it", path, ErrKeyPermissions, st.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load identity key %s: %w", path, err)
	}
	k, err := decodeKey(data)
	if err != nil {
		return nil, fmt.Errorf("load identity key %s: %w", path, err)
	}
	return k, nil
}

func encodeKey(k crypto.PrivKey) ([]byte, error) {
	raw, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: keyPEMType, Bytes: raw}), nil
}

// decodeKey parses a key file's contents. Every failure wraps ErrBadKeyFile
// and says what was wrong.
func decodeKey(data []byte) (crypto.PrivKey, error) {
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadKeyFile, maxKeyFileSize)
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block %q", ErrBadKeyFile, keyPEMType)
	}
	if block.Type != keyPEMType {
		return nil, fmt.Errorf("%w: PEM block is %q, want %q", ErrBadKeyFile, block.Type, keyPEMType)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: unexpected PEM headers", ErrBadKeyFile)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: %d bytes of trailing data after the key", ErrBadKeyFile, len(rest))
	}
	k, err := crypto.UnmarshalPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKeyFile, err)
	}
	if k.Type() != pb.KeyType_Ed25519 {
		return nil, fmt.Errorf("%w: key type %s, want Ed25519", ErrBadKeyFile, k.Type())
	}
	// The encoding carries the public key beside the seed; a damaged copy
	// would give a peer ID that the key's signatures do not match.
	raw, err := k.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: Ed25519 key of %d bytes", ErrBadKeyFile, len(raw))
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize]), raw) {
		return nil, fmt.Errorf("%w: public key does not match the private key", ErrBadKeyFile)
	}
	return k, nil
}
