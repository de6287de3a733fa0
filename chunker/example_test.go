package chunker_test

import (
	"fmt"
	"strings"

	"github.com/dsn-project/dsn/chunker"
	"github.com/ipfs/go-cid"
)

func ExampleRootCID() {
	c, err := chunker.RootCID(strings.NewReader("hello world\n"), chunker.DefaultSpec)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c)
	// Output: bafkr4ig4ljhnxasawambeqcsymycobuw7ftxdjr3iusquxax2maa5artku
}

func ExampleImport() {
	data := strings.Repeat("dsn ", 1000) // 4000 bytes
	var sizes []int
	c, err := chunker.Import(strings.NewReader(data), "size-1024", func(chunk []byte) error {
		// chunk is only valid during this call: copy it to keep it.
		sizes = append(sizes, len(chunk))
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sizes, c.Prefix().Codec == cid.DagProtobuf)
	// Output: [1024 1024 1024 928] true
}

func ExampleParseSpec() {
	for _, spec := range []string{"", "size-262144", "size-16"} {
		canon, err := chunker.ParseSpec(spec)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Printf("%q -> %s\n", spec, canon)
	}
	// Output:
	// "" -> size-1048576
	// "size-262144" -> size-262144
	// error: invalid chunker spec "size-16": size 16 bytes is outside [1024, 2096896]
}

func ExampleBuilder() {
	c, _ := chunker.NewBuilder(cid.Raw).Sum([]byte("hello world\n"))
	fmt.Println(c)
	// Output: bafkr4ig4ljhnxasawambeqcsymycobuw7ftxdjr3iusquxax2maa5artku
}
