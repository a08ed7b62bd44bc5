//go:build !race

package inubitsessions

const raceEnabled = false
