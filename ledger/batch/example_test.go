package batch_test

import (
	"crypto/ed25519"
	"fmt"

	"github.com/dsn-project/dsn/ledger/batch"
)

func ExampleVerify() {
	pub, priv, _ := ed25519.GenerateKey(nil)
	items := []batch.Item{
		{PublicKey: pub, Message: []byte("receipt 1"), Signature: ed25519.Sign(priv, []byte("receipt 1"))},
		{PublicKey: pub, Message: []byte("receipt 2"), Signature: ed25519.Sign(priv, []byte("receipt 1"))},
	}
	fmt.Println(batch.Verify(items), batch.VerifyAll(items))
	// Output: [true false] false
}
