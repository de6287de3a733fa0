// Package cputime reads the CPU time the process has used, for benchmarks
// that report CPU per byte beside wall-clock speed: on a shared machine it
// varies far less than wall time, and it counts the kernel's work for the
// process (copies, system calls) as well as its own.
package cputime
