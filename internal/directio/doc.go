// Package directio writes files with O_DIRECT: from aligned buffers
// straight to the disk, without a copy into the page cache.
//
// A node writes large files once and seldom reads them back soon: shards
// it receives, files it retrieves. A buffered write of such a file costs
// the kernel several times the CPU of a direct one (the copy, page
// allocation, block allocation, writeback), and a node moving hundreds of
// MB/s on two cores has no CPU to spare. Where the file system refuses
// O_DIRECT, or on systems without it, the bytes go through the page cache
// as usual: direct I/O is only ever a cheaper way to the same result.
package directio
