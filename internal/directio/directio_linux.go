package directio

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

// inMemory reports whether fd's file system keeps files in memory
// (tmpfs, ramfs), where O_DIRECT is accepted but bypasses nothing: there
// it would only cost the copy into the aligned buffers.
func inMemory(fd uintptr) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(fd), &st); err != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
}
