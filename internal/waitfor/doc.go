// Package waitfor is the tests' one way to wait for something to happen:
// poll a condition until it holds, and fail with what it last said when it
// does not within a bound. A test waits for a counter or a state that proves
// the work happened, never for a fixed time; the bounds are generous, since
// a race-detector build on two busy cores is slow, and a condition that
// holds returns at once.
package waitfor
