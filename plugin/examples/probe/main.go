package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func main() {}

func init() {
	sdk.Register(sdk.Handlers{
		Init:       func(*sdk.Env) error { inits++; return nil },
		WebTrigger: webTrigger,
		Event:      event,
		Queue:      consume,
		Scheduled:  scheduled,
		Resolver:   resolver,
	})
}

// Module globals: they live as long as the instance, which is what the
// tenant-isolation test probes.
var (
	inits int
	stash string
	hog   [][]byte
)

// Op is one operation request; Value is base64 for binary safety when B64 is set.
type Op struct {
	Op      string            `json:"op"`
	Key     string            `json:"key,omitempty"`
	Value   string            `json:"value,omitempty"`
	Cursor  string            `json:"cursor,omitempty"`
	Limit   int               `json:"limit,omitempty"`
	TTL     int               `json:"ttl,omitempty"`
	Order   string            `json:"order,omitempty"`
	URL     string            `json:"url,omitempty"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	MAC     string            `json:"mac,omitempty"`
	N       int               `json:"n,omitempty"`
}

// Result is the JSON answer; Code is the abi error code name on failure.
type Result struct {
	OK     bool              `json:"ok"`
	Code   string            `json:"code,omitempty"`
	Value  string            `json:"value,omitempty"`
	Keys   []string          `json:"keys,omitempty"`
	Next   string            `json:"next,omitempty"`
	Status int               `json:"status,omitempty"`
	Match  bool              `json:"match,omitempty"`
	Header map[string]string `json:"header,omitempty"`
}

func webTrigger(env *sdk.Env, req *abi.WebTriggerRequest) (*abi.Response, error) {
	var op Op
	if err := json.Unmarshal(req.Body, &op); err != nil {
		return &abi.Response{Status: 400, Body: []byte(`{"ok":false,"code":"bad-json"}`)}, nil
	}
	res := run(env, req, &op)
	body, _ := json.Marshal(res)
	return &abi.Response{Status: 200, Headers: []abi.Header{{Name: "Content-Type", Value: "application/json"}}, Body: body}, nil
}

func fail(err error) Result {
	var c abi.Code
	if errors.As(err, &c) {
		return Result{Code: c.String()}
	}
	return Result{Code: "error: " + err.Error()}
}

func run(env *sdk.Env, req *abi.WebTriggerRequest, op *Op) Result {
	switch op.Op {
	case "echo":
		return Result{OK: true, Value: string(req.Body)}
	case "context":
		return Result{OK: true, Value: req.Context.Installation + "|" + req.Context.SiteURL + "|" + req.Trigger}
	case "storage.set":
		if err := env.Storage.Set(op.Key, []byte(op.Value), time.Duration(op.TTL)*time.Second); err != nil {
			return fail(err)
		}
		return Result{OK: true}
	case "storage.setbig":
		if err := env.Storage.Set(op.Key, make([]byte, op.N), 0); err != nil {
			return fail(err)
		}
		return Result{OK: true}
	case "storage.get":
		v, err := env.Storage.Get(op.Key)
		if err != nil {
			return fail(err)
		}
		return Result{OK: true, Value: string(v)}
	case "storage.delete":
		if err := env.Storage.Delete(op.Key); err != nil {
			return fail(err)
		}
		return Result{OK: true}
	case "storage.claim":
		// One transaction: claim Key if absent and note Value under Key+":by".
		tx, ok := env.Storage.(sdk.Transactor)
		if !ok {
			return Result{Code: "no-transactions"}
		}
		applied, err := tx.Transact([]abi.TxnOp{
			{Kind: abi.TxnSet, Key: op.Key, Value: []byte(op.Value), TTLSeconds: uint32(op.TTL), Condition: abi.IfAbsent},
			{Kind: abi.TxnSet, Key: op.Key + ":by", Value: []byte(op.Value)},
		})
		if err != nil {
			return fail(err)
		}
		return Result{OK: true, Match: applied}
	case "storage.query":
		p, err := env.Storage.Query(op.Key, op.Cursor, op.Limit)
		if err != nil {
			return fail(err)
		}
		r := Result{OK: true, Next: p.NextCursor}
		for _, e := range p.Entries {
			r.Keys = append(r.Keys, e.Key)
		}
		return r
	case "secrets.set":
		if err := env.Secrets.Set(op.Key, []byte(op.Value)); err != nil {
			return fail(err)
		}
		return Result{OK: true}
	case "secrets.delete":
		if err := env.Secrets.Delete(op.Key); err != nil {
			return fail(err)
		}
		return Result{OK: true}
	case "secrets.compare":
		m, err := env.Secrets.Compare(op.Key, []byte(op.Value))
		if err != nil {
			return fail(err)
		}
		return Result{OK: true, Match: m}
	case "secrets.verify":
		mac, err := base64.StdEncoding.DecodeString(op.MAC)
		if err != nil {
			return Result{Code: "bad-mac"}
		}
		m, err := env.Secrets.VerifyHMAC(op.Key, sdk.SHA256, []byte(op.Value), mac)
		if err != nil {
			return fail(err)
		}
		return Result{OK: true, Match: m}
	case "fetch", "jira":
		r := &abi.Request{Method: op.Method, URL: op.URL, Body: []byte(op.Value)}
		for k, v := range op.Headers {
			r.Headers = append(r.Headers, abi.Header{Name: k, Value: v})
		}
		var resp *abi.Response
		var err error
		if op.Op == "fetch" {
			resp, err = env.Fetch.Fetch(r)
		} else {
			resp, err = env.Jira.Request(r)
		}
		if err != nil {
			return fail(err)
		}
		h := map[string]string{}
		for _, kv := range resp.Headers {
			h[kv.Name] = kv.Value
		}
		return Result{OK: true, Status: int(resp.Status), Value: string(resp.Body), Header: h}
	case "queue.push":
		if err := env.Queue.Push(op.Key, op.Order, []byte(op.Value), time.Duration(op.TTL)*time.Second); err != nil {
			return fail(err)
		}
		return Result{OK: true}
	case "realtime.publish":
		payload := []byte(op.Value)
		if op.N > 0 {
			payload = make([]byte, op.N)
		}
		if err := env.Realtime.Publish(op.Key, payload); err != nil {
			return fail(err)
		}
		return Result{OK: true}
	case "realtime.sign":
		tok, err := env.Realtime.SignToken(op.Key, op.Value, time.Duration(op.TTL)*time.Second)
		if err != nil {
			return fail(err)
		}
		return Result{OK: true, Value: tok}
	case "log":
		env.Log.Info(op.Value, "n", op.N)
		return Result{OK: true}
	case "stash.set":
		stash = op.Value
		return Result{OK: true}
	case "stash.get":
		return Result{OK: true, Value: stash}
	case "inits":
		return Result{OK: true, Value: strconv.Itoa(inits)}
	case "loop":
		for {
			op.N++
		}
	case "sleep":
		// WASI poll_oneoff with a clock subscription: the host must end it
		// at the call's deadline.
		time.Sleep(time.Duration(op.N) * time.Second)
		return Result{OK: true}
	case "block":
		// Waits on a channel nothing will close for op.N seconds: the
		// scheduler idles in poll_oneoff, as a guest blocked on I/O would.
		done := make(chan struct{})
		go func() {
			time.Sleep(time.Duration(op.N) * time.Second)
			close(done)
		}()
		<-done
		return Result{OK: true}
	case "stdin":
		// No stdin is given: a read ends at once, never blocks.
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return Result{Code: "stdin: " + err.Error()}
		}
		return Result{OK: true, Value: strconv.Itoa(len(b))}
	case "hog":
		// Allocate and touch op.N MiB and keep it, to press on the memory cap.
		for range op.N {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			hog = append(hog, b)
		}
		return Result{OK: true, Value: strconv.Itoa(len(hog))}
	case "file":
		_, err := os.ReadFile(op.Key)
		if err != nil {
			return Result{Code: "file: " + err.Error()}
		}
		return Result{OK: true}
	case "env":
		return Result{OK: true, Value: strconv.Itoa(len(os.Environ())) + "|" + strconv.Itoa(len(os.Args))}
	case "time":
		return Result{OK: true, Value: strconv.FormatInt(time.Now().Unix(), 10)}
	}
	return Result{Code: "unknown op"}
}

func event(env *sdk.Env, ev *abi.Event) error {
	return env.Storage.Set("event:last", []byte(ev.Type+"|"+ev.Trigger), 0)
}

func consume(env *sdk.Env, m *abi.QueueMessage) (abi.QueueResult, error) {
	if string(m.Payload) == "retry-once" && m.Attempt == 1 {
		return abi.QueueResult{RetryAfterSeconds: 1}, nil
	}
	return abi.QueueResult{}, env.Storage.Set("queue:got:"+m.Queue+":"+string(m.Payload), []byte(strconv.Itoa(int(m.Attempt))), 0)
}

// scheduled marks the trigger fired and counts its firings, so that the
// schedule's tests can tell one firing per interval from two.
func scheduled(env *sdk.Env, c *abi.ScheduledCall) error {
	if err := env.Storage.Set("scheduled:"+c.Trigger, []byte("fired"), 0); err != nil {
		return err
	}
	key := "scheduled-count:" + c.Trigger
	n := 0
	v, err := env.Storage.Get(key)
	switch {
	case err == nil:
		if n, err = strconv.Atoi(string(v)); err != nil {
			return sdk.ErrInternal
		}
	case !errors.Is(err, sdk.ErrNotFound):
		return err
	}
	return env.Storage.Set(key, []byte(strconv.Itoa(n+1)), 0)
}

func resolver(env *sdk.Env, c *abi.ResolverCall) ([]byte, error) {
	if c.Function == "fail" {
		return nil, sdk.ErrInvalidArgument
	}
	return append([]byte(c.Function+":"), c.Payload...), nil
}

// noop is an export that does nothing, to measure the bare cost of a call.
//
//lint:ignore U1000 an export, called by the host's benchmarks
//go:wasmexport noop
func noop() {}
