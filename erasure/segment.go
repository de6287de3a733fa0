package erasure

// DefaultSegmentChunks is how many chunks make up one segment by default:
// 16, so a segment of sealed 1 MiB chunks is 16 MiB + 256 bytes. Segments
// hold whole chunks, so each one decrypts on its own.
//
// Measured on the 2-core AVX-512/GFNI build machine (32 MiB L3, shared with
// other jobs, so single figures are noisy), medians of 5, in MB/s of segment
// bytes, alternating wrapper and raw library op by op:
//
//	go test ./erasure -run '^$' -bench Paired -count 5 -benchtime 500ms
//
//	Encode       4 MiB   8 MiB  16 MiB  32 MiB  64 MiB 128 MiB
//	4+2          32329   21886   16892   13968   15729   17203
//	10+4         25901   19538   11111   16171   13240   11092
//	29+51         2304    1951    1151    1512    1546    1570
//
// Throughput does not rise with segment size: it is highest while the
// segment and its parity sit in cache and falls to a memory-bound plateau
// from about 16 MiB on; bigger segments buy nothing. Memory does grow with
// the size: each segment in flight holds (k+m)/k times its size (22.4 MiB
// for 10+4 at 16 MiB) and a pipeline keeps several in flight, and a 16 MiB
// segment plus 10+4 parity still fits a 32 MiB L3 right after sealing wrote
// it. Smaller segments would be faster still in this benchmark, but the
// design asks for tens of MiB so that shards stay large network and disk
// units (1.6 MiB each for 10+4) and a manifest lists few of them; 16 is the
// smallest size in that range and already on the plateau.
const DefaultSegmentChunks = 16
