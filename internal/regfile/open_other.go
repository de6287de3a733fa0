//go:build !unix

package regfile

import "os"

// Elsewhere opening a file does not block on its type.
func openNonblock(path string) (*os.File, error) { return os.Open(path) }

func clearNonblock(*os.File) error { return nil }
