package abi

// Version is the WIT package version; it is part of every import module name.
const Version = "0.1.0"

// Import module names, one per WIT interface, as wit-bindgen would lower them.
const (
	ModuleStorage  = "chatbridge:plugin/storage@" + Version
	ModuleSecrets  = "chatbridge:plugin/secrets@" + Version
	ModuleFetch    = "chatbridge:plugin/fetch@" + Version
	ModuleJira     = "chatbridge:plugin/jira@" + Version
	ModuleQueue    = "chatbridge:plugin/queue@" + Version
	ModuleRealtime = "chatbridge:plugin/realtime@" + Version
	ModuleLog      = "chatbridge:plugin/log@" + Version
	ModuleABI      = "chatbridge:plugin/abi@" + Version
)

// Import function names.
const (
	FuncStorageGet    = "get"
	FuncStorageSet    = "set"
	FuncStorageDelete = "delete"
	FuncStorageQuery  = "query"
	// FuncStorageTransact applies a list of conditional sets, deletes and
	// checks atomically (Forge's kvs.transact).
	FuncStorageTransact = "transact"

	FuncSecretsSet        = "set"
	FuncSecretsDelete     = "delete"
	FuncSecretsCompare    = "compare"
	FuncSecretsVerifyHMAC = "verify-hmac"

	FuncFetch = "fetch"

	FuncJiraRequest        = "request"
	FuncJiraAttachmentLink = "attachment-link"
	FuncJiraUploadLink     = "upload-link"
	FuncJiraUploadResult   = "upload-result"

	FuncQueuePush = "push"

	FuncRealtimePublish   = "publish"
	FuncRealtimeSignToken = "sign-token"

	FuncLogWrite = "write"

	FuncInputRead   = "input-read"
	FuncOutputWrite = "output-write"
	FuncResultRead  = "result-read"
)

// Export names: the handlers the host calls.
const (
	ExportInit             = "init"
	ExportHandleWebTrigger = "handle-web-trigger"
	ExportHandleEvent      = "handle-event"
	ExportHandleQueue      = "handle-queue"
	ExportHandleScheduled  = "handle-scheduled"
	ExportHandleResolver   = "handle-resolver"
)

// Capability names a manifest grants; each maps to one import module.
const (
	CapabilityStorage = "storage"
	CapabilitySecrets = "secrets"
	CapabilityFetch   = "fetch"
	CapabilityJira    = "jira"
	CapabilityQueue   = "queue"
	CapabilityLog     = "log"
	// CapabilityRealtime publishes to browsers subscribed at the edge.
	CapabilityRealtime = "realtime"
)

// Func describes one import function: its module, name and core signature,
// written as wasm value types ("i32", "i64").
type Func struct {
	Module  string
	Name    string
	Params  []string
	Results []string
}

// Imports lists every function the host provides, with its core signature.
// The host registers exactly these and the guest imports a subset of them.
var Imports = []Func{
	{ModuleStorage, FuncStorageGet, []string{"i32", "i32"}, []string{"i64"}},
	{ModuleStorage, FuncStorageSet, []string{"i32", "i32", "i32", "i32", "i32"}, []string{"i64"}},
	{ModuleStorage, FuncStorageDelete, []string{"i32", "i32"}, []string{"i64"}},
	{ModuleStorage, FuncStorageQuery, []string{"i32", "i32", "i32", "i32", "i32"}, []string{"i64"}},
	{ModuleStorage, FuncStorageTransact, []string{"i32", "i32"}, []string{"i64"}},
	{ModuleSecrets, FuncSecretsSet, []string{"i32", "i32", "i32", "i32"}, []string{"i64"}},
	{ModuleSecrets, FuncSecretsDelete, []string{"i32", "i32"}, []string{"i64"}},
	{ModuleSecrets, FuncSecretsCompare, []string{"i32", "i32", "i32", "i32"}, []string{"i64"}},
	{ModuleSecrets, FuncSecretsVerifyHMAC, []string{"i32", "i32", "i32", "i32", "i32", "i32", "i32"}, []string{"i64"}},
	{ModuleFetch, FuncFetch, []string{"i32", "i32"}, []string{"i64"}},
	{ModuleJira, FuncJiraRequest, []string{"i32", "i32"}, []string{"i64"}},
	{ModuleJira, FuncJiraAttachmentLink, []string{"i32", "i32", "i32"}, []string{"i64"}},
	{ModuleJira, FuncJiraUploadLink, []string{"i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32"}, []string{"i64"}},
	{ModuleJira, FuncJiraUploadResult, []string{"i32", "i32"}, []string{"i64"}},
	{ModuleQueue, FuncQueuePush, []string{"i32", "i32", "i32", "i32", "i32", "i32", "i32"}, []string{"i64"}},
	{ModuleRealtime, FuncRealtimePublish, []string{"i32", "i32", "i32", "i32"}, []string{"i64"}},
	{ModuleRealtime, FuncRealtimeSignToken, []string{"i32", "i32", "i32", "i32", "i32"}, []string{"i64"}},
	{ModuleLog, FuncLogWrite, []string{"i32", "i32", "i32", "i32", "i32"}, nil},
	{ModuleABI, FuncInputRead, []string{"i32"}, nil},
	{ModuleABI, FuncOutputWrite, []string{"i32", "i32"}, nil},
	{ModuleABI, FuncResultRead, []string{"i32"}, nil},
}

// Exports lists every handler a plugin may export, each taking its input
// length and returning a Code. Init takes nothing.
var Exports = []Func{
	{"", ExportInit, nil, []string{"i32"}},
	{"", ExportHandleWebTrigger, []string{"i32"}, []string{"i32"}},
	{"", ExportHandleEvent, []string{"i32"}, []string{"i32"}},
	{"", ExportHandleQueue, []string{"i32"}, []string{"i32"}},
	{"", ExportHandleScheduled, []string{"i32"}, []string{"i32"}},
	{"", ExportHandleResolver, []string{"i32"}, []string{"i32"}},
}

// CapabilityOf names the capability an import module belongs to, or "" for
// the abi module, which every plugin has.
func CapabilityOf(module string) string {
	switch module {
	case ModuleStorage:
		return CapabilityStorage
	case ModuleSecrets:
		return CapabilitySecrets
	case ModuleFetch:
		return CapabilityFetch
	case ModuleJira:
		return CapabilityJira
	case ModuleQueue:
		return CapabilityQueue
	case ModuleRealtime:
		return CapabilityRealtime
	case ModuleLog:
		return CapabilityLog
	}
	return ""
}

// Hash algorithms of secrets.verify-hmac.
const (
	HashSHA256 uint32 = 0
	HashSHA1   uint32 = 1
)

// Log levels of log.write.
const (
	LevelDebug int32 = 0
	LevelInfo  int32 = 1
	LevelWarn  int32 = 2
	LevelError int32 = 3
)
