//go:build race

package tests

// raceEnabled is whether this test binary was built with -race: the
// binary under test is then built with -race too, so that the end-to-end
// runs race-check the signing pipeline.
const raceEnabled = true
