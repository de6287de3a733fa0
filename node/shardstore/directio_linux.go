package shardstore

import (
	"golang.org/x/sys/unix"
)

// setDirect turns O_DIRECT on or off for the open file fd. Linux lets a
// file change it at any time (fcntl F_SETFL).
func setDirect(fd uintptr, on bool) error {
	flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		flags |= unix.O_DIRECT
	} else {
		flags &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(fd, unix.F_SETFL, flags)
	return err
}
