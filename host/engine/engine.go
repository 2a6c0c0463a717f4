package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/chatbridge/chatbridge/host/fuel"
)

// Deadline selects how a runaway call is stopped.
type Deadline uint8

const (
	// Fuel rewrites the module with loop-header checks (the default).
	Fuel Deadline = iota
	// CloseOnContextDone uses wazero's built-in check, about 6x slower on Go guests.
	CloseOnContextDone
	// Unchecked stops nothing: for benchmarks that measure the others.
	Unchecked
)

// String names the mechanism.
func (d Deadline) String() string {
	switch d {
	case Fuel:
		return "fuel"
	case CloseOnContextDone:
		return "close-on-context-done"
	case Unchecked:
		return "unchecked"
	}
	return "deadline(" + strconv.Itoa(int(d)) + ")"
}

// Config configures an Engine. The zero value is usable.
type Config struct {
	// MemoryLimitPages caps each instance's linear memory, in 64 KiB pages.
	// Default 1024 (64 MiB).
	MemoryLimitPages uint32
	// CacheDir keeps compiled code, and the fuel rewrite of the module,
	// across processes; "" rewrites and compiles in memory.
	CacheDir string
	// Deadline selects the runaway-call mechanism. Default Fuel.
	Deadline Deadline
	// FuelQuantum is the loop iterations between deadline checks. Default fuel.DefaultQuantum.
	FuelQuantum uint32
	// MaxInstances caps live instances across all keys. Default 64.
	MaxInstances int
	// MaxPerKey caps live instances of one key (installation), so that one
	// busy installation waits for its own instances instead of evicting
	// everyone else's. Default 4.
	MaxPerKey int
	// MaxCallsPerInstance recycles an instance after this many calls. Default 10,000.
	MaxCallsPerInstance int
	// RecyclePages recycles an instance whose memory grew past this many
	// pages (wasm memory never shrinks). Default three quarters of MemoryLimitPages.
	RecyclePages uint32
	// NoReset turns off reusing an idle instance of another key by restoring
	// the post-initialisation snapshot; every new key then instantiates.
	// Default false: reset, which costs a memory copy instead of an
	// instantiation. Only the Fuel mechanism resets.
	NoReset bool
	// HostModules instantiates the host's import modules in the runtime.
	HostModules func(ctx context.Context, r wazero.Runtime) error
	// InitExport names the export run once on every new instance, for its
	// key, before the instance's first call; a non-zero result fails the
	// instance. Default "": none. The contract names it, not the engine.
	InitExport string
}

func (c Config) withDefaults() Config {
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = 1024
	}
	if c.MaxInstances == 0 {
		c.MaxInstances = 64
	}
	if c.MaxPerKey == 0 {
		c.MaxPerKey = 4
	}
	if c.MaxCallsPerInstance == 0 {
		c.MaxCallsPerInstance = 10_000
	}
	if c.RecyclePages == 0 {
		c.RecyclePages = c.MemoryLimitPages / 4 * 3
	}
	return c
}

var (
	// ErrTimeout is returned when a call ran past its context's deadline.
	ErrTimeout = errors.New("engine: call timed out")
	// ErrTrap is returned when the module trapped; the instance was discarded.
	ErrTrap = errors.New("engine: module trapped")
	// ErrBusy is returned when no instance could be had before the context ended.
	ErrBusy = errors.New("engine: no instance available")
	// ErrNoExport is returned for an export the module does not have.
	ErrNoExport = errors.New("engine: module has no such export")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("engine: closed")
	// ErrInit is returned when Config.InitExport failed on a new instance.
	ErrInit = errors.New("engine: module init failed")
)

// exitTimeout is the exit code an instance is closed with when fuel runs out
// past the deadline.
const exitTimeout = 124

// Engine holds one compiled module and its instance pools.
type Engine struct {
	cfg      Config
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	cache    wazero.CompilationCache

	// mu guards pools, live, perKey, lru, closed, active and drained.
	mu     sync.Mutex
	pools  map[string][]*instance // idle instances by key
	live   int                    // instances created and not yet closed
	perKey map[string]int         // live instances by key
	lru    []*instance            // idle instances, least recently used first
	closed bool
	freed  chan struct{} // closed and replaced whenever an instance is released

	active  int           // calls under way
	drained chan struct{} // closed when active falls to 0 after Close began

	// stopping ends when Close begins; every call's context ends with it.
	stopping context.Context
	stop     context.CancelFunc

	// snap is the state of a fresh instance right after _initialize, taken
	// from the first instance; reset restores it. Nil until then, or when
	// NoReset is set.
	snapOnce    sync.Once
	snap        *snapshot
	globalNames []string // the module's mutable globals, as the rewrite exported them

	stats Stats
}

// Stats are counters for metrics; read them with Engine.Stats.
type Stats struct {
	Calls, Traps, Timeouts, Instantiations, Resets, Recycled atomic.Int64
}

// instance is one initialised module; it serves one call at a time.
type instance struct {
	key     string
	mod     api.Module
	fns     map[string]api.Function
	globals []api.MutableGlobal // the module's mutable globals, exported by the rewrite
	calls   int
	sleep   *sleeper // the instance's WASI nanosleep, bound to the call under way
}

// sleeper is an instance's WASI nanosleep (poll_oneoff's clock wait). It
// sleeps until the time passes or the context of the call under way ends;
// then it stops the call as the fuel import does, so that a guest that
// sleeps past its deadline neither keeps its instance nor blocks shutdown,
// whichever deadline mechanism runs.
type sleeper struct {
	mu  sync.Mutex      // guards ctx and mod
	ctx context.Context // the call under way; nil between calls
	mod api.Module
}

// bind makes ctx the context of the instance's next guest code; unbind with nil.
func (s *sleeper) bind(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
}

// unbind ends the binding of bind: a sleep outside a call is refused.
func (s *sleeper) unbind() {
	s.mu.Lock()
	s.ctx = nil
	s.mu.Unlock()
}

func (s *sleeper) nanosleep(ns int64) {
	s.mu.Lock()
	ctx, mod := s.ctx, s.mod
	s.mu.Unlock()
	if ctx == nil {
		// Guest code runs only inside a bound call; refuse to sleep outside one.
		panic(sys.NewExitError(exitTimeout))
	}
	if ns > 0 && ctx.Err() == nil {
		t := time.NewTimer(time.Duration(ns))
		select {
		case <-t.C:
			return
		case <-ctx.Done():
			t.Stop()
		}
	}
	if ctx.Err() == nil {
		return
	}
	if mod != nil {
		_ = mod.CloseWithExitCode(context.Background(), exitTimeout)
	}
	panic(sys.NewExitError(exitTimeout))
}

// New compiles module. It must already be verified: New trusts the bytes.
func New(ctx context.Context, module []byte, cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	rc := wazero.NewRuntimeConfig().WithMemoryLimitPages(cfg.MemoryLimitPages)
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("engine: compilation cache: %w", err)
		}
		cache = c
		rc = rc.WithCompilationCache(c)
	}
	switch cfg.Deadline {
	case Fuel, Unchecked:
	case CloseOnContextDone:
		rc = rc.WithCloseOnContextDone(true)
	default:
		return nil, fmt.Errorf("engine: unknown deadline mechanism %d", cfg.Deadline)
	}
	var globals []string
	if cfg.Deadline == Fuel {
		rewritten, names, err := rewrite(module, cfg.CacheDir, fuel.Config{Quantum: cfg.FuelQuantum, ExportGlobals: !cfg.NoReset})
		if err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		module, globals = rewritten, names
	} else {
		// Resetting needs the globals the fuel rewrite exports; the other
		// mechanisms exist for comparison and instantiate per key.
		cfg.NoReset = true
	}
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	e := &Engine{cfg: cfg, runtime: r, cache: cache, globalNames: globals, pools: map[string][]*instance{}, perKey: map[string]int{}, freed: make(chan struct{})}
	e.stopping, e.stop = context.WithCancel(context.Background())
	fail := func(err error) (*Engine, error) {
		_ = r.Close(ctx)
		if cache != nil {
			_ = cache.Close(ctx)
		}
		return nil, err
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		return fail(fmt.Errorf("engine: wasi: %w", err))
	}
	if cfg.Deadline == Fuel {
		if _, err := r.NewHostModuleBuilder(fuel.ImportModule).NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(yield(cfg.FuelQuantum)), nil, []api.ValueType{api.ValueTypeI32}).
			Export(fuel.ImportName).Instantiate(ctx); err != nil {
			return fail(fmt.Errorf("engine: fuel import: %w", err))
		}
	}
	if cfg.HostModules != nil {
		if err := cfg.HostModules(ctx, r); err != nil {
			return fail(err)
		}
	}
	compiled, err := r.CompileModule(ctx, module)
	if err != nil {
		return fail(fmt.Errorf("engine: compile: %w", err))
	}
	e.compiled = compiled
	return e, nil
}

// yield is the fuel import: called every quantum loop iterations, it ends
// the call when its context is done and otherwise refills the fuel.
func yield(quantum uint32) func(ctx context.Context, m api.Module, stack []uint64) {
	if quantum == 0 {
		quantum = fuel.DefaultQuantum
	}
	return func(ctx context.Context, m api.Module, stack []uint64) {
		if ctx.Err() != nil {
			// Closing marks the instance dead; the panic unwinds the guest
			// like proc_exit does, and the engine discards the instance.
			_ = m.CloseWithExitCode(ctx, exitTimeout)
			panic(sys.NewExitError(exitTimeout))
		}
		stack[0] = uint64(quantum)
	}
}

// Imports lists the module's imported functions, for policy checks and audits.
func (e *Engine) Imports() []api.FunctionDefinition { return e.compiled.ImportedFunctions() }

// Exports lists the module's exported functions.
func (e *Engine) Exports() map[string]api.FunctionDefinition { return e.compiled.ExportedFunctions() }

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }

// Call runs export on an instance of key with params under ctx. init runs
// once per new instance, under the same ctx, before the call.
func (e *Engine) Call(ctx context.Context, key, export string, params ...uint64) (uint64, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return 0, ErrClosed
	}
	e.active++
	e.mu.Unlock()
	defer e.endCall()
	// Close stops calls in flight through this context.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(e.stopping, cancel)()
	inst, err := e.acquire(ctx, key)
	if err != nil {
		return 0, err
	}
	fn := inst.fns[export]
	if fn == nil {
		fn = inst.mod.ExportedFunction(export)
		if fn == nil {
			e.release(ctx, inst, false)
			return 0, fmt.Errorf("%w: %q", ErrNoExport, export)
		}
		inst.fns[export] = fn
	}
	e.stats.Calls.Add(1)
	inst.sleep.bind(ctx)
	res, err := fn.Call(ctx, params...)
	inst.sleep.unbind()
	inst.calls++
	if err != nil {
		e.release(ctx, inst, false)
		return 0, e.callError(ctx, err)
	}
	// A call that returned only as its deadline passed may have been cut
	// short in a host function that saw the deadline; its instance is not
	// trusted with another call.
	e.release(ctx, inst, ctx.Err() == nil)
	if len(res) == 0 {
		return 0, nil
	}
	return res[0], nil
}

// endCall counts a call finished and tells a waiting Close when it was the last.
func (e *Engine) endCall() {
	e.mu.Lock()
	if e.active--; e.active == 0 && e.drained != nil {
		close(e.drained)
		e.drained = nil
	}
	e.mu.Unlock()
}

func (e *Engine) callError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		e.stats.Timeouts.Add(1)
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	}
	e.stats.Traps.Add(1)
	return fmt.Errorf("%w: %w", ErrTrap, err)
}

// acquire takes an idle instance of key, or creates one, evicting idle
// instances of other keys to stay under MaxInstances, or waits.
func (e *Engine) acquire(ctx context.Context, key string) (*instance, error) {
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, ErrClosed
		}
		if idle := e.pools[key]; len(idle) > 0 {
			inst := idle[len(idle)-1]
			e.pools[key] = idle[:len(idle)-1]
			e.removeLRU(inst)
			e.mu.Unlock()
			return inst, nil
		}
		var victim *instance
		if e.perKey[key] < e.cfg.MaxPerKey {
			if e.snap != nil && len(e.lru) > 0 {
				// Cheapest: restore another key's idle instance to the state
				// it had before any key touched it, and hand it over.
				inst := e.lru[0]
				e.lru = e.lru[1:]
				e.removeIdle(inst)
				e.dropLocked(inst.key)
				e.live++
				e.perKey[key]++
				e.mu.Unlock()
				if err := e.reset(ctx, inst, key); err != nil {
					_ = inst.mod.Close(context.Background())
					e.mu.Lock()
					e.dropLocked(key)
					e.signalLocked()
					e.mu.Unlock()
					return nil, err
				}
				return inst, nil
			}
			if e.live >= e.cfg.MaxInstances && len(e.lru) > 0 {
				victim = e.lru[0]
				e.lru = e.lru[1:]
				e.removeIdle(victim)
				e.dropLocked(victim.key)
			}
			if e.live < e.cfg.MaxInstances {
				e.live++
				e.perKey[key]++
				e.mu.Unlock()
				if victim != nil {
					_ = victim.mod.Close(context.Background())
				}
				inst, err := e.instantiate(ctx, key)
				if err != nil {
					e.mu.Lock()
					e.dropLocked(key)
					e.signalLocked()
					e.mu.Unlock()
					return nil, err
				}
				return inst, nil
			}
		}
		wait := e.freed
		e.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
		}
	}
}

func (e *Engine) instantiate(ctx context.Context, key string) (*instance, error) {
	// No FS, env, args or stdio: wazero's defaults. Clocks and randomness
	// are real because the Go guest's scheduler and GC depend on them.
	// Sleeping obeys the call's deadline (sleeper), not only the clock.
	sl := &sleeper{ctx: ctx}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithSysWalltime().WithSysNanotime().WithNanosleep(sl.nanosleep).
		WithRandSource(rand.Reader)
	mod, err := e.runtime.InstantiateModule(ctx, e.compiled, mc)
	if err != nil {
		return nil, e.callError(ctx, err)
	}
	sl.mu.Lock()
	sl.mod = mod
	sl.mu.Unlock()
	defer sl.unbind()
	e.stats.Instantiations.Add(1)
	inst := &instance{key: key, mod: mod, fns: map[string]api.Function{}, sleep: sl}
	if start := mod.ExportedFunction("_initialize"); start != nil {
		if _, err := start.Call(ctx); err != nil {
			_ = mod.Close(context.Background())
			return nil, e.callError(ctx, err)
		}
	}
	if !e.cfg.NoReset {
		inst.globals, err = exportedGlobals(mod, e.globalNames)
		if err != nil {
			_ = mod.Close(context.Background())
			return nil, err
		}
		e.snapOnce.Do(func() {
			s := takeSnapshot(mod, inst.globals)
			e.mu.Lock()
			e.snap = s
			e.mu.Unlock()
		})
	}
	if err := e.initFor(ctx, inst); err != nil {
		_ = mod.Close(context.Background())
		return nil, err
	}
	return inst, nil
}

// initFor runs Config.InitExport for the instance's key.
func (e *Engine) initFor(ctx context.Context, inst *instance) error {
	if e.cfg.InitExport == "" {
		return nil
	}
	init := inst.mod.ExportedFunction(e.cfg.InitExport)
	if init == nil {
		return nil
	}
	res, err := init.Call(ctx)
	if err != nil {
		return e.callError(ctx, err)
	}
	if len(res) == 1 && res[0] != 0 {
		return fmt.Errorf("%w: %s returned %d", ErrInit, e.cfg.InitExport, res[0])
	}
	return nil
}

// reset restores inst to the post-_initialize snapshot and gives it to key.
func (e *Engine) reset(ctx context.Context, inst *instance, key string) error {
	e.mu.Lock()
	s := e.snap
	e.mu.Unlock()
	if err := s.restore(inst.mod, inst.globals); err != nil {
		return err
	}
	e.stats.Resets.Add(1)
	inst.key = key
	inst.calls = 0
	inst.sleep.bind(ctx)
	defer inst.sleep.unbind()
	return e.initFor(ctx, inst)
}

// release returns inst to its pool, or discards it after a failure, too many
// calls, or too much memory.
func (e *Engine) release(ctx context.Context, inst *instance, ok bool) {
	keep := ok && inst.calls < e.cfg.MaxCallsPerInstance &&
		inst.mod.Memory().Size()/65536 <= e.cfg.RecyclePages
	e.mu.Lock()
	if !keep || e.closed {
		e.dropLocked(inst.key)
		if ok {
			e.stats.Recycled.Add(1)
		}
		e.signalLocked()
		e.mu.Unlock()
		_ = inst.mod.Close(context.Background())
		return
	}
	e.pools[inst.key] = append(e.pools[inst.key], inst)
	e.lru = append(e.lru, inst)
	e.signalLocked()
	e.mu.Unlock()
}

// dropLocked counts one instance of key gone. e.mu must be held.
func (e *Engine) dropLocked(key string) {
	e.live--
	if e.perKey[key]--; e.perKey[key] <= 0 {
		delete(e.perKey, key)
	}
}

// signalLocked wakes everyone waiting for an instance. e.mu must be held.
func (e *Engine) signalLocked() {
	close(e.freed)
	e.freed = make(chan struct{})
}

func (e *Engine) removeLRU(inst *instance) {
	for i, v := range e.lru {
		if v == inst {
			e.lru = append(e.lru[:i], e.lru[i+1:]...)
			return
		}
	}
}

func (e *Engine) removeIdle(inst *instance) {
	idle := e.pools[inst.key]
	for i, v := range idle {
		if v == inst {
			e.pools[inst.key] = append(idle[:i], idle[i+1:]...)
			break
		}
	}
	if len(e.pools[inst.key]) == 0 {
		delete(e.pools, inst.key)
	}
}

// Drop discards every idle instance of key, e.g. when an installation is removed.
func (e *Engine) Drop(key string) {
	e.mu.Lock()
	idle := e.pools[key]
	delete(e.pools, key)
	for _, inst := range idle {
		e.removeLRU(inst)
		e.dropLocked(key)
	}
	e.signalLocked()
	e.mu.Unlock()
	for _, inst := range idle {
		_ = inst.mod.Close(context.Background())
	}
}

// Live reports how many instances exist (idle or busy).
func (e *Engine) Live() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.live
}

// Close closes every idle instance and the runtime; calls in flight end
// with ErrTimeout, stopped as if their deadline had passed. Close waits for
// them to return, until ctx ends, before it closes the runtime under them.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.stop()
	e.closed = true
	e.pools = nil
	e.lru = nil
	e.signalLocked()
	var drained chan struct{}
	if e.active > 0 {
		e.drained = make(chan struct{})
		drained = e.drained
	}
	e.mu.Unlock()
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
		}
	}
	err := e.runtime.Close(context.Background())
	if e.cache != nil {
		if cerr := e.cache.Close(ctx); err == nil {
			err = cerr
		}
	}
	return err
}
