//go:build race

package inubitsessions

// raceEnabled: the race detector makes sync.Pool drop items at random,
// so allocation counts are not comparable under it.
const raceEnabled = true
