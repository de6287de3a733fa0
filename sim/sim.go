package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/market"
)

// Report is what one run measured.
type Report struct {
	// Config is the run's configuration with its defaults filled in.
	Config Config
	// Epochs is the number of epochs simulated.
	Epochs int
	// FilesLost counts files of which fewer than K shards remained on
	// providers that still existed; FilesLostPerMillion scales it by
	// Files. A loss is final: a lost file is dropped.
	FilesLost           int
	FilesLostPerMillion float64
	// Repairs counts segments rebuilt; ShardsRepaired the shards placed
	// by those repairs.
	Repairs, ShardsRepaired int
	// RepairTransfers counts shards moved for repair: K downloaded per
	// repair plus every shard uploaded.
	RepairTransfers int64
	// RepairBytesPerStoredByte is repair traffic per year divided by the
	// encoded bytes stored at the start (Files × (K+M) shards);
	// RepairBytesPerDataByte divides by the data (Files × K shards).
	RepairBytesPerStoredByte, RepairBytesPerDataByte float64
	// DeferredRepairs counts epochs in which a segment due for repair
	// waited because fewer than K of its shards were online.
	DeferredRepairs int
	// PlacementFailures counts shards for which no acceptable provider
	// was found (the shard stays missing until the next repair).
	PlacementFailures int
	// Departures and OfflineSpells count churn events.
	Departures, OfflineSpells int
	// MinSurviving is the fewest shards any file ever had on providers
	// that still existed (K+M if none ever left), a margin that shows
	// how close a run came to a loss when it lost nothing.
	MinSurviving int
	// LoadMaxOverMean and LoadGini describe shards per provider at the
	// end, over the providers then in the network: 1 and 0 are a perfect
	// spread.
	LoadMaxOverMean, LoadGini float64
}

// provider is one provider, present or departed.
type provider struct {
	peer         dsn.PeerID
	rep          market.Reputation
	departAt     int64 // epoch it leaves for good
	offlineUntil int64 // offline while the epoch is before it
	missed       int   // audits missed in a row
	gone         bool
	shards       []int32 // shard refs: file*(K+M) + index
}

// state is one run in progress.
type state struct {
	cfg     Config
	n       int // K+M
	rng     *rand.Rand
	epoch   int64
	start   time.Time
	ask     *market.Ask
	provs   []provider
	slots   []int32 // providers present, in a fixed number of slots
	ghosts  []int32 // departed providers not yet detected
	holder  []int32 // per shard ref: provider index, -1 if none
	pos     []int32 // per shard ref: index in its holder's shards
	alive   []int32 // per file: shards on providers that still exist
	bad     []int32 // per file: shards the owner counts as gone
	lost    []bool  // per file
	queued  []bool  // per file: in queue
	queue   []int32 // files to look at for repair
	cands   []market.Candidate
	candIdx []int32 // provider index of each of cands
	rep     Report
	pOff    float64 // chance per epoch of an offline spell
}

// Run simulates cfg and reports what it measured. It fails only with
// ErrConfig.
func Run(cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, fmt.Errorf("simulate: %w", err)
	}
	cfg = cfg.withDefaults()
	s := newState(cfg)
	s.placeAll()
	epochs := int64(cfg.Duration / cfg.Epoch)
	for s.epoch = 1; s.epoch <= epochs; s.epoch++ {
		s.churn()
		s.audit()
		s.repair()
	}
	s.finish(int(epochs))
	return s.rep, nil
}

func newState(cfg Config) *state {
	n := cfg.K + cfg.M
	shards := cfg.Files * n
	s := &state{
		cfg:    cfg,
		n:      n,
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x64736e2073696d)),
		start:  time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		holder: make([]int32, shards),
		pos:    make([]int32, shards),
		alive:  make([]int32, cfg.Files),
		bad:    make([]int32, cfg.Files),
		lost:   make([]bool, cfg.Files),
		queued: make([]bool, cfg.Files),
		cands:  make([]market.Candidate, 0, cfg.Candidates),
		// One ask for everyone: prices and capacity are not simulated.
		ask: &market.Ask{FreeCapacity: math.MaxUint64, MinShardSize: 1, MaxShardSize: 1, ValidUntil: math.MaxUint64},
	}
	s.rep.Config = cfg
	s.rep.MinSurviving = n
	for i := range s.holder {
		s.holder[i] = -1
	}
	hours := cfg.Epoch.Hours() / 24
	s.pOff = 1 - math.Pow(1-cfg.DailyOfflineRate, hours)
	s.slots = make([]int32, cfg.Providers)
	for i := range s.slots {
		s.slots[i] = s.join()
		// The network has been running: its first providers have passed
		// the audits a newcomer must pass to be vetted.
		r := &s.provs[s.slots[i]].rep
		r.Audits, r.Passed, r.Vetted = cfg.Reputation.VettingAudits, cfg.Reputation.VettingAudits, true
	}
	return s
}

// join adds a new provider, online, unvetted, and returns its index.
func (s *state) join() int32 {
	depart := int64(math.MaxInt64)
	if s.cfg.MeanLifetime > 0 {
		depart = s.epoch + s.span(s.cfg.MeanLifetime)
	}
	i := int32(len(s.provs))
	s.provs = append(s.provs, provider{
		peer:     dsn.PeerID("p" + strconv.Itoa(int(i))),
		rep:      s.cfg.Reputation.New(),
		departAt: depart,
	})
	return i
}

// span draws an exponential duration of the given mean, in whole epochs,
// at least one.
func (s *state) span(mean time.Duration) int64 {
	e := math.Ceil(s.rng.ExpFloat64() * float64(mean) / float64(s.cfg.Epoch))
	if !(e >= 1) {
		return 1
	}
	if e > MaxEpochs*2 {
		return MaxEpochs * 2
	}
	return int64(e)
}

func (s *state) online(p *provider) bool { return !p.gone && s.epoch >= p.offlineUntil }

func (s *state) detected(h int32) bool { return h < 0 || s.provs[h].missed >= s.cfg.DetectEpochs }

// placeAll stores every file at epoch 0.
func (s *state) placeAll() {
	for f := range s.cfg.Files {
		var seg market.Segment
		for i := range s.n {
			ref := int32(f*s.n + i)
			if s.place(&seg, ref) {
				s.alive[f]++
			} else {
				s.bad[f]++
			}
		}
		if s.bad[f] > 0 {
			s.enqueue(int32(f))
		}
	}
}

// place chooses a provider for shard ref with the market's rule and
// gives it the shard; it reports false when no one acceptable was found.
// Candidates are drawn at random, which is how peers rank by XOR
// distance to a shard's hash; offline ones are left out, as an upload to
// them fails before the market is asked.
func (s *state) place(seg *market.Segment, ref int32) bool {
	now := s.start.Add(time.Duration(s.epoch) * s.cfg.Epoch)
	const rounds = 8
	for r := 0; r <= rounds; r++ {
		s.cands, s.candIdx = s.cands[:0], s.candIdx[:0]
		if r < rounds {
			for range s.cfg.Candidates {
				s.addCand(s.slots[s.rng.IntN(len(s.slots))])
			}
		} else {
			// Last resort: every provider, from a random place on.
			off := s.rng.IntN(len(s.slots))
			for j := range s.slots {
				s.addCand(s.slots[(off+j)%len(s.slots)])
			}
		}
		c, _, err := seg.Pick(int(ref)%s.n, s.cands, s.cfg.Limits, 1, now)
		if err != nil {
			if !errors.Is(err, market.ErrNoCandidate) {
				panic(err) // the sim's own ask and shard size always fit
			}
			continue
		}
		h := s.candIdx[slices.IndexFunc(s.cands, func(x market.Candidate) bool { return x.Peer == c.Peer })]
		p := &s.provs[h]
		s.holder[ref] = h
		s.pos[ref] = int32(len(p.shards))
		p.shards = append(p.shards, ref)
		return true
	}
	s.rep.PlacementFailures++
	return false
}

func (s *state) addCand(i int32) {
	p := &s.provs[i]
	if !s.online(p) {
		return
	}
	s.cands = append(s.cands, market.Candidate{Peer: p.peer, Ask: s.ask, Rep: p.rep})
	s.candIdx = append(s.candIdx, i)
}

// unhold takes shard ref away from its holder.
func (s *state) unhold(ref int32) {
	h := s.holder[ref]
	if h < 0 {
		return
	}
	p := &s.provs[h]
	i := s.pos[ref]
	last := p.shards[len(p.shards)-1]
	p.shards[i] = last
	s.pos[last] = i
	p.shards = p.shards[:len(p.shards)-1]
	s.holder[ref] = -1
}

func (s *state) enqueue(f int32) {
	if !s.queued[f] {
		s.queued[f] = true
		s.queue = append(s.queue, f)
	}
}

// churn makes providers leave, replacing them, and go offline or back.
func (s *state) churn() {
	var lost []int32
	for slot, i := range s.slots {
		p := &s.provs[i]
		if p.departAt <= s.epoch {
			s.rep.Departures++
			p.gone = true
			for _, ref := range p.shards {
				f := ref / int32(s.n)
				if s.lost[f] {
					continue
				}
				s.alive[f]--
				s.rep.MinSurviving = min(s.rep.MinSurviving, int(s.alive[f]))
				if s.alive[f] < int32(s.cfg.K) && !s.lost[f] {
					s.lost[f] = true
					lost = append(lost, f)
				}
			}
			if p.missed < s.cfg.DetectEpochs {
				s.ghosts = append(s.ghosts, i)
			}
			s.slots[slot] = s.join()
			continue
		}
		if s.epoch >= p.offlineUntil && s.pOff > 0 && s.rng.Float64() < s.pOff {
			s.rep.OfflineSpells++
			p.offlineUntil = s.epoch + s.span(s.cfg.MeanOffline)
		}
	}
	for _, f := range lost {
		s.rep.FilesLost++
		for i := range s.n {
			s.unhold(f*int32(s.n) + int32(i))
		}
	}
}

// audit updates every provider's reputation for this epoch's audit and
// marks the shards of those that missed DetectEpochs in a row.
func (s *state) audit() {
	for _, i := range s.slots {
		p := &s.provs[i]
		if s.online(p) {
			p.rep, _ = s.cfg.Reputation.Update(p.rep, market.AuditPass)
			if p.missed >= s.cfg.DetectEpochs {
				for _, ref := range p.shards {
					s.bad[ref/int32(s.n)]--
				}
			}
			p.missed = 0
			continue
		}
		p.rep, _ = s.cfg.Reputation.Update(p.rep, market.AuditMissed)
		s.miss(p)
	}
	keep := s.ghosts[:0]
	for _, i := range s.ghosts {
		p := &s.provs[i]
		s.miss(p)
		if p.missed < s.cfg.DetectEpochs {
			keep = append(keep, i)
		}
	}
	s.ghosts = keep
}

func (s *state) miss(p *provider) {
	p.missed++
	if p.missed != s.cfg.DetectEpochs {
		return
	}
	for _, ref := range p.shards {
		f := ref / int32(s.n)
		s.bad[f]++
		s.enqueue(f)
	}
}

// repair rebuilds the segments whose healthy shards fell to the
// threshold: it downloads K online shards and places a new copy of every
// shard counted gone, by the same rule as the first placement.
func (s *state) repair() {
	queue := s.queue
	s.queue = nil
	var seg market.Segment
	for _, f := range queue {
		s.queued[f] = false
		if s.lost[f] || s.bad[f] == 0 || int(int32(s.n)-s.bad[f]) > s.cfg.RepairThreshold {
			continue
		}
		base := f * int32(s.n)
		online := 0
		seg = market.Segment{}
		for i := range int32(s.n) {
			h := s.holder[base+i]
			if s.detected(h) {
				continue
			}
			p := &s.provs[h]
			seg.Take(market.Candidate{Peer: p.peer, Rep: p.rep})
			if s.online(p) {
				online++
			}
		}
		if online < s.cfg.K {
			s.rep.DeferredRepairs++
			s.enqueue(f)
			continue
		}
		s.rep.Repairs++
		s.rep.RepairTransfers += int64(s.cfg.K)
		for i := range int32(s.n) {
			ref := base + i
			h := s.holder[ref]
			if !s.detected(h) {
				continue
			}
			if h >= 0 {
				if !s.provs[h].gone {
					s.alive[f]--
				}
				s.unhold(ref)
			}
			if s.place(&seg, ref) {
				s.alive[f]++
				s.bad[f]--
				s.rep.ShardsRepaired++
				s.rep.RepairTransfers++
			}
		}
	}
}

// finish computes the report's ratios.
func (s *state) finish(epochs int) {
	r := &s.rep
	r.Epochs = epochs
	r.FilesLostPerMillion = float64(r.FilesLost) / float64(s.cfg.Files) * 1e6
	years := float64(time.Duration(epochs)*s.cfg.Epoch) / float64(Year)
	r.RepairBytesPerStoredByte = float64(r.RepairTransfers) / float64(s.cfg.Files*s.n) / years
	r.RepairBytesPerDataByte = float64(r.RepairTransfers) / float64(s.cfg.Files*s.cfg.K) / years
	load := make([]float64, len(s.slots))
	for j, i := range s.slots {
		load[j] = float64(len(s.provs[i].shards))
	}
	r.LoadMaxOverMean, r.LoadGini = spread(load)
}

// spread returns max/mean and the Gini coefficient of xs (0 and 0 when
// all are 0).
func spread(xs []float64) (maxOverMean, gini float64) {
	slices.Sort(xs)
	var sum, weighted float64
	for i, x := range xs {
		sum += x
		weighted += float64(i+1) * x
	}
	if sum == 0 {
		return 0, 0
	}
	n := float64(len(xs))
	maxOverMean = xs[len(xs)-1] / (sum / n)
	gini = (2*weighted)/(n*sum) - (n+1)/n
	return maxOverMean, gini
}
