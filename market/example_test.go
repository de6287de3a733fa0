package market_test

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/market"
)

// A client places the three shards of a 2+1 segment. Every peer but one
// has published an ask; one asks too much; one is new.
func ExampleSelect() {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	book := market.NewAskBook(0)
	keys := map[dsn.PeerID][32]byte{}
	names := []string{"p1", "p2", "p3", "p4", "p5", "p6"}
	for i, name := range names {
		key := ed25519.NewKeyFromSeed(append(make([]byte, 31), byte(i+1)))
		price := uint64(1_000_000_000)
		if name == "p3" {
			price = 5_000_000_000
		}
		a := market.Ask{Seq: 1, PricePerGiBMonth: price, PricePerGiB: 100_000_000, CollateralPerGiB: 2_000_000_000,
			FreeCapacity: 1 << 40, MinShardSize: 1, MaxShardSize: 1 << 30, ValidUntil: uint64(now.Add(time.Hour).Unix())}
		if err := a.Sign(key); err != nil {
			panic(err)
		}
		if name != "p5" { // p5 never published an ask
			if err := book.Add(a, now); err != nil {
				panic(err)
			}
		}
		keys[dsn.PeerID(name)] = a.Provider
	}
	candidate := func(p dsn.PeerID) market.Candidate {
		c := market.Candidate{Peer: p, Subnets: []string{"net-" + string(p)}}
		if a, ok := book.Get(keys[p]); ok {
			c.Ask = &a
		}
		// Every peer has passed its vetting audits but p6, which is new.
		if p != "p6" {
			c.Rep = market.Reputation{Alpha: 1000, Passed: 100, Audits: 100, Vetted: true}
		}
		return c
	}
	peers := make([]dsn.PeerID, len(names))
	for i, n := range names {
		peers[i] = dsn.PeerID(n)
	}
	var cands [][]market.Candidate
	for shard := range 3 {
		var cs []market.Candidate
		for _, p := range market.Rank(fmt.Appendf(nil, "shard-%d", shard), peers) {
			cs = append(cs, candidate(p))
		}
		cands = append(cands, cs)
	}
	limits := market.DefaultLimits()
	limits.MaxPricePerGiBMonth = 2_000_000_000 // --max-price
	picks, skips, err := market.Select(cands, limits, 16<<20, now)
	if err != nil {
		panic(err)
	}
	for i, c := range picks {
		fmt.Printf("shard %d -> %s\n", i, c.Peer)
	}
	for _, s := range skips {
		fmt.Println(s)
	}
	// Output:
	// shard 0 -> p2
	// shard 1 -> p6
	// shard 2 -> p1
	// shard 2: skip p5: no ask from provider
	// shard 2: skip p3: price above the client's limit: 5000000000 nano-units per GiB-month, limit 2000000000
	// shard 2: skip p6: provider already holds a shard of the segment
	// shard 2: skip p2: provider already holds a shard of the segment
}
