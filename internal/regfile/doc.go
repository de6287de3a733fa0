// Package regfile opens a file for reading only if it is a regular file,
// without ever blocking on one that is not.
//
// os.Open of a FIFO with no writer blocks until a writer comes, so a
// store pointed at one (by mistake or by a local user of the daemon's
// API) would hang and hold a transfer slot for as long. Opening without
// blocking and then checking the file's type refuses it at once, with no
// window between a check and the open for the path to change.
package regfile
