// Command abiecho is a wasip1 reactor with one export, echo, that returns
// its input through ChatBridge's ABI (input-read, output-write): the host
// side of the table's Extism comparison. The bench driver builds it.
package main
