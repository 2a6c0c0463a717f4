// Command chatbridge is the ChatBridge host: one binary with subcommands.
//
//	chatbridge serve   run the host and the HTTPS edge from configuration
//	chatbridge dev     run the local emulator with development keys and certificate,
//	                   the simulators and the dev console (-watch DIR: live reload)
//	chatbridge bundle  keygen | sign | verify vendor bundles
//	chatbridge audit   what a bundle can do, checked against its manifest
//	chatbridge keys    rotate the storage master key and data keys
//	chatbridge install | uninstall | installations   manage installations through a running host
//
// Run a subcommand with -h for its flags.
package main
