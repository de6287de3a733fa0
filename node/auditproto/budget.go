package auditproto

import (
	"time"

	"github.com/dsn-project/dsn/proofs/compact"
	"github.com/dsn-project/dsn/proofs/merkle"
)

// Budget is how long a challenge may take, scaled to the work it asks of
// an honest provider on slow hardware:
//
//	Base + Reads*PerRead + ReadBytes/ReadRate + ProofBytes/NetRate
//
// Reads counts the random reads the provider makes (one per challenged
// Merkle group or compact block, plus one per sidecar), ReadBytes what
// those reads return, ProofBytes the largest proof the challenge allows.
// The auditor's deadline is exactly this; a server allows itself its own
// Timeout on top, so an honest server never gives up before its auditor.
// Zero fields take the defaults below.
type Budget struct {
	// Base covers opening the stream, the round trip, and scheduling.
	Base time.Duration
	// PerRead is one random read on a slow disk: a seek plus a rotation on
	// a 7200 rpm drive is 8-12 ms, and reads arrive in ascending order, so
	// the queue shortens the seeks.
	PerRead time.Duration
	// ReadRate is the slowest sequential read rate allowed, bytes/s.
	ReadRate int64
	// NetRate is the slowest upload allowed for the proof, bytes/s.
	NetRate int64
}

// Defaults of a Budget's zero fields: 2 s fixed, 10 ms per random read,
// 8 MiB/s from the disk and 1 MiB/s to the network. For a 64 MiB shard at
// c = 459 they allow 8.3 s for a Merkle challenge (460 reads, 7.6 MB, a
// 0.8 MB proof) and 7.0 s for a compact one (460 reads, 3.2 MB, a 6.4 KB
// proof). The slowest honest provider we mean to admit, a home server with
// a spinning disk on a slow uplink, fits; a provider that has to fetch the
// challenged data from elsewhere pays a network round trip per read on top
// of that, so the budget is not generous to it.
const (
	DefaultBase     = 2 * time.Second
	DefaultPerRead  = 10 * time.Millisecond
	DefaultReadRate = 8 << 20
	DefaultNetRate  = 1 << 20
)

func (b Budget) withDefaults() Budget {
	if b.Base <= 0 {
		b.Base = DefaultBase
	}
	if b.PerRead <= 0 {
		b.PerRead = DefaultPerRead
	}
	if b.ReadRate <= 0 {
		b.ReadRate = DefaultReadRate
	}
	if b.NetRate <= 0 {
		b.NetRate = DefaultNetRate
	}
	return b
}

func (b Budget) of(reads, readBytes, proofBytes int64) time.Duration {
	b = b.withDefaults()
	return b.Base + time.Duration(reads)*b.PerRead + rateTime(readBytes, b.ReadRate) + rateTime(proofBytes, b.NetRate)
}

// rateTime is how long n bytes take at rate bytes/s.
func rateTime(n, rate int64) time.Duration {
	return time.Duration(float64(n) / float64(rate) * float64(time.Second))
}

// Merkle is the budget of a Merkle challenge of c samples over a shard of
// size bytes: one read per challenged 16 KiB group (at most c, at most
// the shard's groups) and one of the outboard, 32 bytes per group.
func (b Budget) Merkle(size int64, c int) time.Duration {
	groups := (size + merkle.GroupSize - 1) / merkle.GroupSize
	reads := min(int64(c), groups)
	return b.of(reads+1, reads*merkle.GroupSize+32*groups, int64(merkle.MaxProofSize(int(min(int64(c), int64(merkle.Chunks(size)))))))
}

// Compact is the budget of a compact challenge of c blocks per target: per
// target one read per challenged block (at most c, at most its blocks) and
// one of its tags, which the provider loads whole.
func (b Budget) Compact(targets []compact.Target, c int) time.Duration {
	var reads, bytes int64
	for _, t := range targets {
		r := min(int64(c), compact.Blocks(t.Size))
		reads += r + 1
		bytes += r*compact.BlockSize + compact.TagsSize(t.Size)
	}
	return b.of(reads, bytes, compact.ProofSize)
}
