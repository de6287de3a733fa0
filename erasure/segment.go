package erasure

// DefaultSegmentChunks is how many chunks make up one segment by default:
// 32, so a segment of sealed 1 MiB chunks is 32 MiB + 512 bytes and each
// of its 4+2 shards 8 MiB. Segments hold whole chunks, so each one
// decrypts on its own.
//
// The coding itself does not ask for big segments. Measured on the 2-core
// AVX-512/GFNI build machine (32 MiB L3, shared with other jobs, so single
// figures are noisy), medians of 5, in MB/s of segment bytes, alternating
// wrapper and raw library op by op:
//
//	go test ./erasure -run '^$' -bench Paired -count 5 -benchtime 500ms
//
//	Encode       4 MiB   8 MiB  16 MiB  32 MiB  64 MiB 128 MiB
//	4+2          32329   21886   16892   13968   15729   17203
//	10+4         25901   19538   11111   16171   13240   11092
//	29+51         2304    1951    1151    1512    1546    1570
//
// Throughput is highest while the segment and its parity sit in cache and
// falls to a memory-bound plateau from about 16 MiB on, tens of times
// faster than a network stores. What sets the size is the cost of each
// shard on the network: every shard is a stream, a provider's fsyncs and
// index commit, a tags upload, a deal and a DHT announcement, about 12 ms
// of CPU over client and provider together on that machine. A store of 1
// GiB on a local testnet of six providers used a fifth less CPU and ran
// 30% faster with 32 MiB segments than with 16 (docs/benchmarks.md). Memory
// grows with the size, each segment in flight holding (k+m)/k times it,
// and a store keeps a few in flight; 64 MiB was faster still but put the
// 4 GiB memory target out of reach.
const DefaultSegmentChunks = 32
