// Command extismecho is a wasip1 reactor with one export, echo, that
// returns its input through Extism's documented ABI (the extism:host/env
// imports input_length, input_load_u64/u8, alloc, store_u64/u8 and
// output_set), the way Extism's Go PDK does it. Extism's Go PDK is not
// served by the module proxy here, so the few imports are declared
// directly. The bench driver builds it and runs it in Extism's Go SDK.
package main
