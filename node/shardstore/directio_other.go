//go:build !linux

package shardstore

import "errors"

func setDirect(fd uintptr, on bool) error {
	if !on {
		return nil
	}
	return errors.New("direct I/O not implemented on this system")
}
