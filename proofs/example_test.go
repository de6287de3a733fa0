package proofs_test

import (
	"fmt"

	"github.com/dsn-project/dsn/proofs"
)

// The detection table of docs/proofs.md: with the sample count chosen for a
// provider missing 1% of a shard, how likely one challenge catches others.
func ExampleDetection() {
	c := proofs.SamplesFor(0.01, 0.99)
	fmt.Println("c =", c)
	for _, f := range []float64{0.001, 0.01, 0.05, 0.5} {
		fmt.Printf("missing %4.1f%%: caught with P = %.6f, escapes with %.2g\n", 100*f, proofs.Detection(f, c), 1-proofs.Detection(f, c))
	}
	// Output:
	// c = 459
	// missing  0.1%: caught with P = 0.368230, escapes with 0.63
	// missing  1.0%: caught with P = 0.990079, escapes with 0.0099
	// missing  5.0%: caught with P = 1.000000, escapes with 6e-11
	// missing 50.0%: caught with P = 1.000000, escapes with 0
}
