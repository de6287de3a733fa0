//go:build !unix

package offheap

import "errors"

var errNoMmap = errors.New("anonymous mappings not supported here")

func mapBytes(int) ([]byte, error) { return nil, errNoMmap }

func releasePages([]byte) error { return nil }
