package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// extismRow is row 4: bench/extism (its own module) measures a 1 KB echo
// through ChatBridge's engine and through Extism's Go SDK in one process.
func extismRow(ctx context.Context, a *artifacts, o options) ([]row, error) {
	cmd := exec.CommandContext(ctx, "go", "run", ".", "-chatbridge", a.abiEcho, "-extism", a.extEcho, "-benchtime", o.benchtime.String())
	cmd.Dir = filepath.Join(a.root, "bench", "extism")
	// -mod=mod: the main module may have gained requirements since
	// bench/extism's go.sum was written (it builds the main module's
	// packages through its replace directive).
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false -mod=mod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("bench/extism: %w\n%s", err, out)
	}
	ns := map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && f[0] == "echo" {
			v, err := strconv.ParseFloat(f[3], 64)
			if err != nil {
				return nil, err
			}
			ns[f[1]] = v
		}
	}
	cb, ex, un := ns["chatbridge"], ns["extism"], ns["chatbridge-unchecked"]
	if cb == 0 || ex == 0 {
		return nil, fmt.Errorf("bench/extism: no figures in\n%s", out)
	}
	return []row{
		{id: "4", what: "1 KB echo export per call vs Extism go-sdk", figure: us(cb), peer: "Extism " + us(ex),
			ratio: fmt.Sprintf("%.1fx faster", ex/cb), goal: "faster than Extism", verdict: verdict(cb < ex)},
		{id: "3", what: "1 KB echo export, deadline enforced (fuel) vs off", figure: us(cb), peer: "off " + us(un),
			ratio: fmt.Sprintf("%.2fx", cb/un), goal: "<= 1.1x", verdict: verdict(cb <= 1.1*un)},
	}, nil
}

// edgeRow is row 5: proxy/cmd/edgebench, the edge's trivial web trigger
// against nginx `return 200`, same certificate, client and connections.
func edgeRow(ctx context.Context, a *artifacts, o options) ([]row, error) {
	if _, err := exec.LookPath("nginx"); err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			return nil, errors.New("nginx is not installed (make bench installs Debian's package)")
		}
	}
	cmd := exec.CommandContext(ctx, "go", "run", "./proxy/cmd/edgebench", "-rounds", "2",
		"-duration", o.edgeTime.String(), "-warmup", "1s")
	cmd.Dir = a.root
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "PATH="+os.Getenv("PATH")+":/usr/sbin")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("edgebench: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`proxy ([0-9.]+) requests/s, nginx ([0-9.]+) requests/s`).FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("edgebench: no figures in\n%s", out)
	}
	p, _ := strconv.ParseFloat(string(m[1]), 64)
	n, _ := strconv.ParseFloat(string(m[2]), 64)
	lat := ""
	if l := regexp.MustCompile(`p50 latency ratio: ([0-9.]+), p99 latency ratio: ([0-9.]+)`).FindSubmatch(out); l != nil {
		lat = fmt.Sprintf(" (p50 latency %sx, p99 %sx)", l[1], l[2])
	}
	return []row{{id: "5", what: "edge TLS keep-alive, trivial web trigger vs nginx return 200",
		figure: fmt.Sprintf("%.0f req/s", p), peer: fmt.Sprintf("nginx %.0f req/s", n),
		ratio: fmt.Sprintf("%.2f%s", p/n, lat), goal: ">= nginx", verdict: verdict(p >= n)}}, nil
}

// coldStartRows is row 7: from exec of `chatbridge dev` to the first
// Telegram update answered 200 by the wasm bridge (sent by the Telegram
// simulator through the edge), with an empty compilation cache and with a
// warm one; median of three each. Every run starts on a new data directory
// (dev mode then also makes its keys and certificate, installs the site and
// configures the project, which registers the webhook with the simulator);
// a warm run finds the compilation cache of an earlier run copied into it.
func coldStartRows(ctx context.Context, a *artifacts) ([]row, error) {
	root := filepath.Join(a.work, "cold")
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	bundleDir := filepath.Join(root, "bundle")
	if err := os.MkdirAll(bundleDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bundleDir, "plugin.wasm"), a.moduleBytes, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bundleDir, "manifest.yml"), a.mBts, 0o644); err != nil {
		return nil, err
	}
	runs := 0
	var warmCache string
	measure := func(warm bool) (ready, first []time.Duration, err error) {
		for range 3 {
			runs++
			data := filepath.Join(root, fmt.Sprintf("data-%d", runs))
			if warm {
				if err := copyDir(warmCache, filepath.Join(data, "cache")); err != nil {
					return nil, nil, err
				}
			}
			r, f, err := startToFirstWebhook(ctx, a.chatbridge, data, bundleDir)
			if err != nil {
				return nil, nil, err
			}
			ready, first = append(ready, r), append(first, f)
			warmCache = filepath.Join(data, "cache")
		}
		return ready, first, nil
	}
	coldReady, cold, err := measure(false)
	if err != nil {
		return nil, err
	}
	warmReady, warm, err := measure(true)
	if err != nil {
		return nil, err
	}
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	return []row{
		{id: "7", what: "cold start to first webhook answered, warm cache", figure: ms(med(warm)) + " (ready " + ms(med(warmReady)) + ")",
			peer: "cold cache " + ms(med(cold)) + " (ready " + ms(med(coldReady)) + ")", ratio: fmt.Sprintf("%.2fx", float64(med(cold))/float64(med(warm))),
			goal: "<= 150 ms warm", verdict: verdict(med(warm) <= 150*time.Millisecond)},
	}, nil
}

// copyDir copies the files under src to dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
}

// startToFirstWebhook starts `chatbridge dev` on free loopback ports and
// returns the time to its ready line and to the first Telegram update it
// answered, then stops it with SIGTERM.
func startToFirstWebhook(ctx context.Context, bin, data, bundleDir string) (ready, first time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "dev", "-data", data, "-bundle", bundleDir,
		"-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-log-level", "error")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	var admin string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 4 && f[0] == "ready" && f[2] == "admin" {
			admin = f[3]
			ready = time.Since(start)
			break
		}
	}
	if admin == "" {
		return 0, 0, fmt.Errorf("chatbridge dev printed no ready line: %s", stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	// The admin listener takes a write only with the admin token, which
	// the host wrote to its data directory before its ready line.
	token, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		return 0, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, admin+"/_sim/telegram/send", strings.NewReader(`{"chat_id":1001,"text":"cold start"}`))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	first = time.Since(start)
	var res struct {
		Status int `json:"status"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || res.Status != http.StatusOK {
		return 0, 0, fmt.Errorf("first webhook not answered 200: %s", raw)
	}
	return ready, first, nil
}
