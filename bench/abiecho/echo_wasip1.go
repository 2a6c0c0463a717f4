package main

import "unsafe"

//go:wasmimport chatbridge:plugin/abi@0.1.0 input-read
func inputRead(ptr unsafe.Pointer)

//go:wasmimport chatbridge:plugin/abi@0.1.0 output-write
func outputWrite(ptr unsafe.Pointer, n uint32)

// buf is reused across calls, as the Extism plugin reuses its own.
var buf []byte

//go:wasmexport echo
func echo(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	if uint32(cap(buf)) < n {
		buf = make([]byte, n)
	}
	b := buf[:n]
	inputRead(unsafe.Pointer(&b[0]))
	outputWrite(unsafe.Pointer(&b[0]), n)
	return 0
}
