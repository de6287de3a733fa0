package ledger_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
)

func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// A provider logs a deal, a client's receipt and an auditor's credit,
// publishes a checkpoint, and proves one entry to another node.
func Example() {
	clientKey, providerKey, auditorKey := key("client"), key("provider"), key("auditor")
	client, provider, auditor := ledger.PublicKeyOf(clientKey), ledger.PublicKeyOf(providerKey), ledger.PublicKeyOf(auditorKey)
	shard := dsn.SumShard([]byte("some shard"))

	dir, _ := os.MkdirTemp("", "ledger-example")
	defer os.RemoveAll(dir)
	log, err := ledger.Open(dir, providerKey, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer log.Close()

	deal := &ledger.Deal{
		Shard: shard, Size: 1 << 30, PricePerGiBMonth: 2_000_000, PricePerGiB: 10_000,
		Start: 0, End: 30 * 86400, Client: client, Provider: provider, Auditors: []ledger.PublicKey{auditor},
	}
	deal.SignClient(clientKey)
	deal.SignProvider(providerKey)
	receipt := &ledger.Receipt{Provider: provider, Client: client, Shard: shard, Session: ledger.SessionID{1}, Seq: 1, Bytes: 1 << 29}
	receipt.Sign(clientKey)
	credit := &ledger.Credit{Provider: provider, Client: client, Auditor: auditor, Shard: shard, Epoch: 0, EpochSeconds: 15 * 86400, Bytes: 1 << 30}
	credit.Sign(auditorKey)
	if _, err := log.AppendBatch([]ledger.Entry{deal, receipt, credit}); err != nil {
		fmt.Println(err)
		return
	}

	// The provider may not credit itself.
	forged := *credit
	forged.Auditor = provider
	forged.Sign(providerKey)
	_, err = log.Append(&forged)
	fmt.Println("self credit:", err)

	proof, _ := log.ProveInclusion(1)
	e, cp, err := ledger.CheckInclusion(proof, provider)
	fmt.Println("entry", proof.Index, e.Kind(), "in a checkpoint of", cp.Size, err)

	sum, err := log.Verify(context.Background())
	fmt.Println("verified", sum.Entries, "entries,", sum.Checkpoints, "checkpoint", err)

	accounts, _ := log.Balance()
	for _, a := range accounts {
		if a.Party == provider {
			fmt.Println("provider earned", a.SpaceEarned, "for space and", a.BandwidthEarned, "for bandwidth")
		}
	}
	// Output:
	// self credit: append entry 0 (credit): party would vouch for itself: credit signed by its provider
	// entry 1 receipt in a checkpoint of 3 <nil>
	// verified 3 entries, 1 checkpoint <nil>
	// provider earned 1000000 for space and 5000 for bandwidth
}
