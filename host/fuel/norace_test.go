//go:build !race

package fuel_test

const raceEnabled = false
