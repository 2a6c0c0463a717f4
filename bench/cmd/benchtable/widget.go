package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/bench/stack"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
)

// Row 12 (issue 24): live delivery to the website widget. subscribers
// Server-Sent Events subscriptions are held by one host on one chat's
// realtime channel; an agent's public comment in the Jira simulator goes
// through the Jira webhook, the bridge's outbound queue and the realtime
// capability to every subscriber. The figure is the latency from the
// comment's creation to each subscriber's receipt, p50 and p99 over
// replies x subscribers samples.
const (
	widgetSubscribers = 1000
	widgetReplies     = 20
	widgetOrigin      = "https://shop.example"
)

// widgetManifest lifts the bridge manifest's realtime limits per address
// and installation: the bench's subscribers all come from loopback.
func widgetManifest(m []byte) []byte {
	return bytes.Replace(m, []byte("\n  name: ChatBridge\n"),
		[]byte("\n  name: ChatBridge\n  realtime: {subscribersPerAddress: 2000, subscribersPerInstallation: 2000}\n"), 1)
}

func widgetRows(ctx context.Context, a *artifacts, o options) ([]row, error) {
	p50, p99, n, err := measureWidget(ctx, a, o)
	if err != nil {
		return nil, err
	}
	return []row{{id: "13", what: fmt.Sprintf("widget: agent comment -> %d SSE subscribers on one host (%d replies), p50 / p99", widgetSubscribers, widgetReplies),
		figure: fmt.Sprintf("%v / %v", p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond)),
		goal:   "p99 < 1 s", verdict: verdict(p99 < time.Second) + fmt.Sprintf(" (%d samples)", n)}}, nil
}

func measureWidget(ctx context.Context, a *artifacts, o options) (p50, p99 time.Duration, n int, err error) {
	dir := filepath.Join(a.work, "widget")
	if err := os.RemoveAll(dir); err != nil {
		return 0, 0, 0, err
	}
	manifest := widgetManifest(a.mBts)
	if bytes.Equal(manifest, a.mBts) {
		return 0, 0, 0, errors.New("the bridge manifest has no app.name line to add app.realtime under")
	}
	s, err := stack.Start(ctx, stack.Config{Dir: dir, Mode: stack.Wasm, Module: a.moduleBytes, Manifest: manifest,
		Engine: engine.Config{CacheDir: a.cache, MaxPerKey: o.perKey}})
	if err != nil {
		return 0, 0, 0, err
	}
	defer s.Close()
	h := s.Host()
	in, ok := h.Registry().Get(s.Installs[0].ID)
	if !ok || in.Routes["web-widget"] == "" {
		return 0, 0, 0, errors.New("no web-widget route")
	}
	payload, _ := json.Marshal(map[string]any{"projectKey": stack.Project, "enabled": true, "channel": "web",
		"allowedOrigins": []string{widgetOrigin}, "serviceDeskId": "1", "requestTypeId": "10"})
	if out, err := resolver.Call(ctx, h, in.ID, "config.set", payload); err != nil || !strings.Contains(string(out), `"ok":true`) {
		return 0, 0, 0, fmt.Errorf("config.set web: %s %v", out, err)
	}
	endpoint := publicurl.WebTrigger(s.PublicURL, in.Routes["web-widget"]) + "?project=" + stack.Project
	post := func(body map[string]any) (map[string]any, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, "POST", endpoint, bytes.NewReader(b))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", widgetOrigin)
		resp, err := s.Client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out["ok"] != true {
			return nil, fmt.Errorf("widget %v: %d %v %v", body["op"], resp.StatusCode, out, err)
		}
		return out, nil
	}
	sess, err := post(map[string]any{"op": "session"})
	if err != nil {
		return 0, 0, 0, err
	}
	session := sess["session"].(string)
	if _, err := post(map[string]any{"op": "send", "session": session, "name": "Bench", "id": "m1", "text": "bench widget opening"}); err != nil {
		return 0, 0, 0, err
	}
	var key string
	for key == "" {
		var reqs []struct {
			Key         string `json:"key"`
			Description string `json:"description"`
		}
		if err := s.Control("GET", "/_sim/jira/requests", nil, &reqs); err != nil {
			return 0, 0, 0, err
		}
		for _, r := range reqs {
			if strings.Contains(r.Description, "bench widget opening") {
				key = r.Key
			}
		}
		if key == "" {
			select {
			case <-ctx.Done():
				return 0, 0, 0, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	conn, err := post(map[string]any{"op": "connect", "session": session, "name": "Bench"})
	if err != nil {
		return 0, 0, 0, err
	}
	token := conn["token"].(string)

	// The subscribers: one connection each, one token for all (one chat).
	tr := s.Client.Transport.(*http.Transport).Clone()
	tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = 0, widgetSubscribers
	tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	client := &http.Client{Transport: tr}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		mu       sync.Mutex // guards received
		received = make([][]time.Time, widgetReplies)
		opened   sync.WaitGroup
		readers  sync.WaitGroup
	)
	errc := make(chan error, widgetSubscribers)
	for range widgetSubscribers {
		opened.Add(1)
		readers.Add(1)
		go func() {
			defer readers.Done()
			req, _ := http.NewRequestWithContext(sctx, "GET", publicurl.Realtime(s.PublicURL, token), nil)
			req.Header.Set("Origin", widgetOrigin)
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 200 {
				if err == nil {
					err = fmt.Errorf("subscribe: status %d", resp.StatusCode)
					resp.Body.Close()
				}
				errc <- err
				opened.Done()
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			first := true
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					if first {
						opened.Done()
					}
					return
				}
				if first && line == "\n" { // the end of the opening comment
					first = false
					opened.Done()
				}
				data, ok := strings.CutPrefix(line, "data: ")
				if !ok {
					continue
				}
				at := time.Now()
				var ev struct {
					Text string `json:"text"`
				}
				if json.Unmarshal([]byte(data), &ev) != nil {
					continue
				}
				var i int
				if _, err := fmt.Sscanf(ev.Text, "bench reply %d", &i); err == nil && i >= 0 && i < widgetReplies {
					mu.Lock()
					received[i] = append(received[i], at)
					mu.Unlock()
				}
			}
		}()
	}
	opened.Wait()
	select {
	case err := <-errc:
		return 0, 0, 0, err
	default:
	}
	if got := h.Realtime().Subscribers(in.ID); got != widgetSubscribers {
		return 0, 0, 0, fmt.Errorf("%d subscribers held, want %d", got, widgetSubscribers)
	}
	var lat []time.Duration
	for i := range widgetReplies {
		start := time.Now()
		if err := s.Control("POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": fmt.Sprintf("bench reply %d", i), "public": true}, nil); err != nil {
			return 0, 0, 0, err
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			got := len(received[i])
			mu.Unlock()
			if got == widgetSubscribers {
				break
			}
			if time.Now().After(deadline) {
				return 0, 0, 0, fmt.Errorf("reply %d reached %d of %d subscribers within 30 s", i, got, widgetSubscribers)
			}
			time.Sleep(2 * time.Millisecond)
		}
		mu.Lock()
		for _, at := range received[i] {
			lat = append(lat, at.Sub(start))
		}
		mu.Unlock()
	}
	stop()
	readers.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], lat[len(lat)*99/100], len(lat), nil
}
