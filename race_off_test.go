//go:build !race

package inubitsessions

// raceDetector reports whether the tests run under the race detector.
const raceDetector = false
