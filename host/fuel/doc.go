// Package fuel rewrites a WebAssembly module so that its loops spend fuel
// and hand control to the host when the fuel runs out, which lets a host stop
// a runaway guest cheaply.
//
// # Why
//
// wazero can stop a guest whose context is done only with
// RuntimeConfig.WithCloseOnContextDone, which checks at every loop header
// through a call from native code into Go. Go's wasm backend turns every jump
// between basic blocks into a pass through a loop header, so that check costs
// about 6x on Go guests. A counter in a wasm global costs a few native
// instructions instead, and the host is called only once per quantum.
//
// # What Rewrite does
//
// Rewrite returns a copy of a module with:
//
//   - a new function import ImportModule.ImportName of type () -> i32, placed
//     after the existing function imports, so every defined function's index
//     grows by one and every place that holds one (call, return_call,
//     ref.func, element segments, exports, the start function, the "name"
//     section) is remapped;
//   - a new mutable i32 global F, the fuel counter, appended after the
//     existing globals and set to Config.Quantum;
//   - at the start of every loop body, right after the loop's block type, a
//     check that decrements the counter and, when it reaches zero, calls the
//     import and stores its result as the new counter.
//
// The check, where F is the counter and yield the import, is
//
//	global.get F; i32.const 1; i32.sub; global.set F
//	global.get F; i32.eqz; if; call yield; global.set F; end
//
// and branch depths do not change because it is a complete if ... end.
//
// # What the host must do
//
// Provide the import. It returns the next quantum to continue, or ends the
// call the way WASI's proc_exit does: close the module with
// api.Module.CloseWithExitCode, then panic with sys.NewExitError. Run the
// runtime without WithCloseOnContextDone. The import is a call into Go, so
// the Go scheduler and garbage collector can preempt the goroutine there
// even when the guest never returns.
//
// # Limits
//
// The decoder knows the instructions of WebAssembly 2.0 (MVP, sign
// extension, saturating conversions, bulk memory, reference types,
// multi-value, SIMD), relaxed SIMD, tail calls, threads (atomics) and
// extended constant expressions. Exception handling, typed function
// references and garbage collection are refused with ErrUnsupported; any
// other unknown opcode is refused with ErrUnknownOpcode naming it and its
// offset. Fuel does not cover time a guest spends blocked inside a host
// import: host functions must honour their context.
//
// Relaxed SIMD is decoded but untested: wazero does not run it.
//
// A global or type index that is out of range in the input is refused with
// ErrMalformed: after the rewrite it would name the new entry, and a guest
// that could name the counter could refill its own fuel.
//
// Custom sections are copied unchanged except "name", whose function indices
// are remapped (a subsection that cannot be parsed or is unknown here is
// dropped, or the whole section when it cannot be parsed), and the sections
// that hold code offsets, which the inserted checks would make wrong:
// ".debug_*", "reloc.*" and "metadata.code.*" are dropped.
// Stats.DroppedSections lists them.
package fuel
