//go:build race

package fuel_test

// raceEnabled: wazero compiles about 12x slower under the race detector.
const raceEnabled = true
