package fuel

import "errors"

// The import that Rewrite adds: a function of type () -> i32 that returns
// the next quantum of fuel or ends the call.
const (
	ImportModule = "chatbridge:fuel"
	ImportName   = "yield"
)

// GlobalExportPrefix begins the export names Config.ExportGlobals adds: one
// per mutable global, named by its index ("chatbridge.global.3").
const GlobalExportPrefix = "chatbridge.global."

// DefaultQuantum is the number of loop iterations between two calls to the
// yield import when Config.Quantum is zero.
const DefaultQuantum = 10_000

var (
	// ErrNotModule means the input is not a WebAssembly 1.0 binary module.
	ErrNotModule = errors.New("fuel: not a WebAssembly binary module")
	// ErrTruncated means the module ends in the middle of something.
	ErrTruncated = errors.New("fuel: truncated module")
	// ErrMalformed means the module's encoding is invalid.
	ErrMalformed = errors.New("fuel: malformed module")
	// ErrUnknownOpcode means the code holds an instruction this package
	// does not know; it never guesses its immediates.
	ErrUnknownOpcode = errors.New("fuel: unknown opcode")
	// ErrUnsupported means the module uses a WebAssembly proposal that this
	// package does not rewrite (exception handling, typed function
	// references, garbage collection).
	ErrUnsupported = errors.New("fuel: unsupported feature")
	// ErrAlreadyInstrumented means the module already imports from
	// ImportModule.
	ErrAlreadyInstrumented = errors.New("fuel: module already imports " + ImportModule)
)

// Config configures Rewrite. Its zero value is usable.
type Config struct {
	// Quantum is the fuel the counter starts with, and so the number of
	// loop iterations before the first call to the yield import.
	// Default: DefaultQuantum (when 0).
	Quantum uint32
	// ExportGlobals also exports every mutable global the module defines,
	// and the fuel counter, under GlobalExportPrefix, so that a host can
	// snapshot and restore an instance's whole state. Default false.
	ExportGlobals bool
}

// Stats describes what a rewrite changed, for an audit log.
type Stats struct {
	// Functions is the number of function bodies rewritten.
	Functions int
	// Loops is the number of fuel checks inserted, one per loop.
	Loops int
	// Globals names the exports ExportGlobals added, in index order, the
	// fuel counter last.
	Globals []string
	// DroppedSections names the custom sections left out because the
	// rewrite would have made them wrong.
	DroppedSections []string
}

// Rewrite returns a copy of module with a fuel check at the start of every
// loop body, as described in the package documentation. It does not modify
// module. Errors wrap one of the package's sentinel errors.
func Rewrite(module []byte, c Config) ([]byte, error) {
	out, _, err := RewriteWithStats(module, c)
	return out, err
}

// RewriteWithStats is Rewrite that also reports what it changed.
func RewriteWithStats(module []byte, c Config) ([]byte, Stats, error) {
	q := c.Quantum
	if q == 0 {
		q = DefaultQuantum
	}
	rw := rewriter{in: module, quantum: q, exportGlobals: c.ExportGlobals}
	out, err := rw.run()
	if err != nil {
		return nil, Stats{}, err
	}
	return out, rw.stats, nil
}
