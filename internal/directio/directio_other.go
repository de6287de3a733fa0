//go:build !linux

package directio

import "errors"

func setDirect(fd uintptr, on bool) error {
	if !on {
		return nil
	}
	return errors.New("direct I/O not implemented on this system")
}

func inMemory(fd uintptr) bool { return false }
