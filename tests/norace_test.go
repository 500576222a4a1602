//go:build !race

package tests

// raceEnabled is whether this test binary was built with -race (see
// race_test.go).
const raceEnabled = false
