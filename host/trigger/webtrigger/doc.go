// Package webtrigger is the way a web request enters the module: a
// messenger's webhook (or any caller of a web trigger's URL) becomes a Forge
// web trigger invocation of one installation, under the manifest's deadline
// for web triggers. The URLs it hands out are package publicurl's.
package webtrigger
