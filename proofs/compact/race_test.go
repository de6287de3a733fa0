//go:build race

package compact

// raceEnabled shortens the slowest tests under the race detector, which
// makes the arithmetic kernels some 30 times slower; they hold no shared
// state to race on.
const raceEnabled = true
