// Command plugin is the ChatBridge module: messenger chats (Telegram, Viber,
// WhatsApp) and the website chat widget to Jira Service Management requests
// and back, built as a WebAssembly reactor for the host.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o plugin.wasm ./plugin
//
// Everything but registration lives in package bridge, which builds and
// tests natively; manifest.yml beside this file declares the modules.
package main
