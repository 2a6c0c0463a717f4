package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the table.
type row struct {
	id, what      string
	figure, peer  string
	ratio         string
	goal, verdict string
}

// options are the driver's flags.
type options struct {
	phase      time.Duration // each load phase of rows 1 and 2
	rate       int           // the fixed rate of rows 1 and 2
	conns      int           // closed-loop connections of rows 1 and 2
	benchtime  time.Duration // each testing.B measurement
	edgeTime   time.Duration // each server of row 5
	installs   int           // installations of row 8
	etcdTime   time.Duration // each measurement of row 9
	only       string        // comma-separated row ids; empty runs all
	work       string        // scratch directory; default a new temporary one
	perKey     int           // engine.Config.MaxPerKey of the wasm stacks; 0 is the default
	reuse      bool          // keep what an earlier run built in work
	cpuprofile string        // where to write a CPU profile of the rows; empty: none
}

func main() {
	var o options
	flag.DurationVar(&o.phase, "phase", 5*time.Second, "duration of each load phase of rows 1 and 2")
	flag.IntVar(&o.rate, "rate", 500, "fixed rate of rows 1 and 2, updates per second")
	flag.IntVar(&o.conns, "conns", 40, "closed-loop connections of rows 1 and 2 (Telegram's default max_connections)")
	flag.DurationVar(&o.benchtime, "benchtime", time.Second, "duration of each testing.B measurement")
	flag.DurationVar(&o.edgeTime, "edge-duration", 3*time.Second, "measured time per server in row 5")
	flag.DurationVar(&o.etcdTime, "etcd-duration", 2*time.Second, "duration of each measurement of row 9 (etcd and BuntDB each)")
	flag.IntVar(&o.installs, "installations", 10_000, "installations in row 8")
	flag.StringVar(&o.only, "rows", "", "comma-separated rows to run (e.g. 1,2,6); default all")
	flag.IntVar(&o.perKey, "max-per-key", 0, "engine MaxPerKey of the wasm stacks of rows 1-3 (0: the engine's default)")
	flag.BoolVar(&o.reuse, "reuse", false, "with -work: reuse the modules and binary an earlier run built there")
	flag.StringVar(&o.work, "work", "", "scratch directory (default: a new temporary directory, removed at the end)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the rows run (not the build) to this file")
	child := flag.String("child", "", "internal: run as the row 8 child process")
	module := flag.String("module", "", "internal: the bridge module, for -child")
	manifest := flag.String("manifest", "", "internal: the bridge manifest, for -child")
	flag.Parse()
	if *child != "" {
		if err := memoryChild(*child, *module, *manifest, o.installs); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// artifacts are what the build step produced.
type artifacts struct {
	root              string // repository root
	work              string
	bridge, manifest  string // plugin.wasm and manifest.yml of the bridge
	abiEcho, extEcho  string // the two echo plugins
	chatbridge, self  string // the CLI binary and this program
	cache             string // the engine's compilation cache shared by in-process rows
	moduleBytes, mBts []byte
}

func run(o options) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "plugin", "manifest.yml")); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	work := o.work
	if work == "" {
		if work, err = os.MkdirTemp("", "chatbridge-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	a, err := build(ctx, root, work, o.reuse)
	if err != nil {
		return err
	}
	fmt.Printf("benchtable: built in %v; GOMAXPROCS %d, %s/%s, %s\n", time.Since(start).Round(time.Millisecond), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())

	want := func(id string) bool {
		if o.only == "" {
			return true
		}
		for _, s := range strings.Split(o.only, ",") {
			if strings.TrimSpace(s) == id {
				return true
			}
		}
		return false
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var rows []row
	step := func(id string, fn func() ([]row, error)) {
		if !want(id) {
			return
		}
		t := time.Now()
		fmt.Printf("row %s ...", id)
		rs, err := fn()
		if err != nil {
			rs = append(rs, row{id: id, what: "failed", figure: err.Error()})
		}
		fmt.Printf(" %v\n", time.Since(t).Round(time.Millisecond))
		rows = append(rows, rs...)
	}
	step("1", func() ([]row, error) { return endToEnd(ctx, a, o) })
	step("3", func() ([]row, error) { return deadlineRow(ctx, a, o) })
	step("4", func() ([]row, error) { return extismRow(ctx, a, o) })
	step("5", func() ([]row, error) { return edgeRow(ctx, a, o) })
	step("6", func() ([]row, error) { return storageRows(ctx, a, o) })
	step("7", func() ([]row, error) { return coldStartRows(ctx, a) })
	step("8", func() ([]row, error) { return memoryRows(ctx, a, o) })
	step("9", func() ([]row, error) { return etcdRows(ctx, a, o) })
	step("10", func() ([]row, error) { return clusterRows(ctx, a, o) })
	step("11", func() ([]row, error) { return roundTripRows(ctx, a, o) })
	step("12", func() ([]row, error) { return tmpfsRows(ctx, a, o) })
	step("13", func() ([]row, error) { return widgetRows(ctx, a, o) })

	fmt.Printf("\nChatBridge performance table (%s, loopback only, %v in all)\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), time.Since(start).Round(time.Second))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "row\tmeasurement\tChatBridge\tpeer (same run)\tratio\tgoal\tmet")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.id, r.what, r.figure, r.peer, r.ratio, r.goal, r.verdict)
	}
	return tw.Flush()
}

// build compiles the bridge plugin and both echo plugins for wasip1, the
// CLI, and reads the manifest.
func build(ctx context.Context, root, work string, reuse bool) (*artifacts, error) {
	a := &artifacts{root: root, work: work, cache: filepath.Join(work, "cache"),
		bridge: filepath.Join(work, "plugin.wasm"), manifest: filepath.Join(root, "plugin", "manifest.yml"),
		abiEcho: filepath.Join(work, "abiecho.wasm"), extEcho: filepath.Join(work, "extismecho.wasm"),
		chatbridge: filepath.Join(work, "chatbridge")}
	wasm := []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}
	for _, b := range []struct {
		env      []string
		out, pkg string
		args     []string
	}{
		{wasm, a.bridge, "./plugin", []string{"-buildmode=c-shared", "-ldflags=-buildid="}},
		{wasm, a.abiEcho, "./bench/abiecho", []string{"-buildmode=c-shared"}},
		{wasm, a.extEcho, "./bench/extismecho", []string{"-buildmode=c-shared"}},
		{nil, a.chatbridge, "./host/cmd/chatbridge", nil},
	} {
		if _, err := os.Stat(b.out); err == nil && reuse {
			continue
		}
		args := append([]string{"build", "-trimpath", "-o", b.out}, b.args...)
		cmd := exec.CommandContext(ctx, "go", append(args, b.pkg)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), append(b.env, "GOFLAGS=-buildvcs=false")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", b.pkg, err, out)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	a.self = self
	if a.moduleBytes, err = os.ReadFile(a.bridge); err != nil {
		return nil, err
	}
	if a.mBts, err = os.ReadFile(a.manifest); err != nil {
		return nil, err
	}
	return a, nil
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// us formats nanoseconds per operation in microseconds.
func us(ns float64) string { return fmt.Sprintf("%.2f us", ns/1e3) }

// verdict says whether a goal was met.
func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
