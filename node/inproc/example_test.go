package inproc_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/node/inproc"
)

func ExampleNetwork() {
	n := inproc.NewNetwork()
	alice, bob := n.Add("alice"), n.Add("bob")
	bob.SetStreamHandler("/greet/1.0.0", func(s dsn.Stream) {
		fmt.Fprintf(s, "hello, %s", s.RemotePeer())
		_ = s.Close()
	})
	ctx := context.Background()

	s, err := alice.NewStream(ctx, "bob", "/greet/1.0.0")
	if err != nil {
		fmt.Println(err)
		return
	}
	reply, _ := io.ReadAll(s)
	_ = s.Close()
	fmt.Println(string(reply))

	n.Partition([]dsn.PeerID{"alice"}, []dsn.PeerID{"bob"})
	_, err = alice.NewStream(ctx, "bob", "/greet/1.0.0")
	fmt.Println(errors.Is(err, dsn.ErrUnreachable))
	n.Heal()
	fmt.Println(alice.Peers())
	// Output:
	// hello, alice
	// true
	// [bob]
}
