//go:build unix

package regfile

import (
	"os"

	"golang.org/x/sys/unix"
)

func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
}

// clearNonblock makes reads of a regular file block as usual; O_NONBLOCK
// changes nothing for regular files on Linux, but clearing it keeps the
// file's flags what a plain open gives on every system.
func clearNonblock(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) { serr = unix.SetNonblock(int(fd), false) })
	if err != nil {
		return err
	}
	return serr
}
