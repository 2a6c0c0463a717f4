package channeltest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Suite describes one channel implementation and how its messenger behaves.
type Suite struct {
	// New builds the channel, as the bridge's registry does.
	New func(env *sdk.Env, s channel.Secrets) channel.Channel
	// Setup stores the bot's secrets in env as the bridge's configuration
	// would and returns their names.
	Setup func(env *sdktest.Env) channel.Secrets
	// Deliver builds the web trigger request the messenger would send with
	// body, authenticated (signed, or carrying the secret) with what env holds.
	Deliver func(env *sdktest.Env, s channel.Secrets, body []byte) *abi.WebTriggerRequest
	// SignsBody is set when deliveries carry a signature of the body rather
	// than a shared secret.
	SignsBody bool
	// Text is the body of a delivery of one text message with the given
	// message id (dedupe key) from chat, as the messenger would send it.
	Text func(id int64, chat, text string) []byte
	// Chat is a chat id of the messenger for Text; ChatID is the id the
	// channel reports for it (they differ where ids need encoding).
	Chat, ChatID string
	// Measure counts a rendered part as the messenger counts its text limit;
	// nil counts characters.
	Measure func(part string) int
	// Answer returns a fake messenger API that fails every call the way the
	// messenger reports want (channel.ErrBlocked, ErrUnauthorized,
	// ErrTemporary, ErrNotFound), or succeeds when want is nil.
	Answer func(want error) func(*abi.Request) (*abi.Response, error)
	// Fails lists the failures the messenger can report; nil means
	// ErrBlocked, ErrUnauthorized, ErrTemporary and ErrNotFound.
	Fails []error
	// Waits lists errors whose failure also says how long to wait
	// (flood control); each must satisfy channel.RetryAfter.
	Waits []error
}

// Run runs the conformance suite.
func Run(t *testing.T, s Suite) {
	t.Run("an authentic delivery is accepted", func(t *testing.T) {
		env := sdktest.NewEnv()
		names := s.Setup(env)
		req := s.Deliver(env, names, s.Text(1001, s.Chat, "hello"))
		if err := s.New(env.Env, names).Authenticate(req); err != nil {
			t.Fatalf("authentic delivery refused: %v", err)
		}
	})
	t.Run("forged deliveries are refused as unauthorized", func(t *testing.T) {
		env := sdktest.NewEnv()
		names := s.Setup(env)
		body := s.Text(1001, s.Chat, "hello")
		forgers := map[string]func() *abi.WebTriggerRequest{
			"no credentials": func() *abi.WebTriggerRequest {
				return &abi.WebTriggerRequest{Method: "POST", Body: body}
			},
			"credentials of another bot": func() *abi.WebTriggerRequest {
				other := sdktest.NewEnv()
				return s.Deliver(other, s.Setup(other), body)
			},
			"body changed after signing": func() *abi.WebTriggerRequest {
				req := s.Deliver(env, names, body)
				req.Body = bytes.Replace(req.Body, []byte("hello"), []byte("hellO"), 1)
				return req
			},
			"garbage in every header": func() *abi.WebTriggerRequest {
				req := s.Deliver(env, names, body)
				for i := range req.Headers {
					req.Headers[i].Value = "sha256=00" + strings.Repeat("0", 62)
				}
				return req
			},
		}
		for name, forge := range forgers {
			req := forge()
			if name == "body changed after signing" && !s.SignsBody {
				continue // a shared secret does not cover the body
			}
			if err := s.New(env.Env, names).Authenticate(req); !errors.Is(err, channel.ErrUnauthorized) {
				t.Errorf("%s: got %v, want ErrUnauthorized", name, err)
			}
		}
	})
	t.Run("a text message becomes one event with stable storage-safe ids", func(t *testing.T) {
		env := sdktest.NewEnv()
		ch := s.New(env.Env, s.Setup(env))
		evs, err := ch.Parse(s.Text(1001, s.Chat, "Where is my order?"))
		if err != nil || len(evs) != 1 {
			t.Fatalf("got %d events, %v", len(evs), err)
		}
		ev := evs[0]
		if ev.Kind != channel.Message || ev.ChatID != s.ChatID || ev.Plain != "Where is my order?" || ev.Wiki == "" {
			t.Errorf("event: %+v", ev)
		}
		if p := abi.KeyProblem("dedupe:xx:PROJ:" + ev.ID); p != "" {
			t.Errorf("event id %q is not usable in a storage key: %s", ev.ID, p)
		}
		if p := abi.KeyProblem("chat:PROJ:" + ch.Name() + ":" + ev.ChatID); p != "" {
			t.Errorf("chat id %q is not usable in a storage key: %s", ev.ChatID, p)
		}
		again, _ := ch.Parse(s.Text(1001, s.Chat, "Where is my order?"))
		other, _ := ch.Parse(s.Text(1002, s.Chat, "Where is my order?"))
		if len(again) != 1 || again[0].ID != ev.ID {
			t.Errorf("a replayed delivery must give the same dedupe id: %+v", again)
		}
		if len(other) != 1 || other[0].ID == ev.ID {
			t.Errorf("another message must give another dedupe id: %+v", other)
		}
	})
	t.Run("customer text cannot become Jira markup", func(t *testing.T) {
		env := sdktest.NewEnv()
		ch := s.New(env.Env, s.Setup(env))
		evs, err := ch.Parse(s.Text(1003, s.Chat, "{color:red}*x*{color} [click|http://evil]"))
		if err != nil || len(evs) != 1 {
			t.Fatalf("got %d events, %v", len(evs), err)
		}
		rest := strings.NewReplacer(`\{`, "", `\[`, "", `\*`, "").Replace(evs[0].Wiki)
		if strings.Contains(rest, "{color") || strings.Contains(rest, "[click") || strings.Contains(rest, "*x*") {
			t.Errorf("markup passed through: %q", evs[0].Wiki)
		}
	})
	t.Run("unreadable deliveries give an error or nothing, never a panic", func(t *testing.T) {
		env := sdktest.NewEnv()
		ch := s.New(env.Env, s.Setup(env))
		for _, body := range []string{"", "null", "{}", "[]", `{"x":`, "\x00\xff"} {
			evs, err := ch.Parse([]byte(body))
			if err == nil && len(evs) != 0 {
				t.Errorf("%q gave events %+v", body, evs)
			}
		}
	})
	t.Run("rendered parts stay within the text limit", func(t *testing.T) {
		env := sdktest.NewEnv()
		ch := s.New(env.Env, s.Setup(env))
		limit := ch.Limits().Text
		long := strings.Repeat("Lorem ipsum dolor sit amet, «consectetur» & <adipiscing> 😀 elit. ", 3*limit/60+1)
		for _, c := range []channel.Content{{Plain: long}, {Wiki: "*Hi* " + long}} {
			parts := ch.Render(c)
			if len(parts) < 2 {
				t.Fatalf("a text of 3x the limit rendered as %d parts", len(parts))
			}
			for i, p := range parts {
				n := utf8.RuneCountInString(p)
				if s.Measure != nil {
					n = s.Measure(p)
				}
				if n > limit || strings.TrimSpace(p) == "" {
					t.Errorf("part %d measures %d (limit %d) or is blank", i, n, limit)
				}
			}
		}
		if got := ch.Render(channel.Content{Plain: "short"}); len(got) != 1 {
			t.Errorf("a short text rendered as %d parts", len(got))
		}
	})
	t.Run("a sent message holds the token only by reference", func(t *testing.T) {
		env := sdktest.NewEnv()
		names := s.Setup(env)
		env.HTTP.Handler = s.Answer(nil)
		ch := s.New(env.Env, names)
		for _, p := range ch.Render(channel.Content{Plain: "Your parcel left the warehouse."}) {
			if err := ch.SendText(s.ChatID, p); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		reqs := env.HTTP.Requests()
		if len(reqs) == 0 {
			t.Fatal("nothing was sent")
		}
		token := string(env.Secret.Reveal(names.Token))
		for _, r := range reqs {
			all := r.URL + string(r.Body)
			for _, h := range r.Headers {
				all += h.Value
			}
			if token != "" && strings.Contains(all, token) {
				t.Errorf("request to %s holds the token itself", r.URL)
			}
			if !strings.Contains(all, abi.SecretRef(names.Token)) {
				t.Errorf("request to %s does not name the token secret", r.URL)
			}
		}
	})
	t.Run("send failures map onto the channel errors", func(t *testing.T) {
		fails := s.Fails
		if fails == nil {
			fails = []error{channel.ErrBlocked, channel.ErrUnauthorized, channel.ErrTemporary, channel.ErrNotFound}
		}
		for _, want := range fails {
			env := sdktest.NewEnv()
			names := s.Setup(env)
			env.HTTP.Handler = s.Answer(want)
			err := s.New(env.Env, names).SendText(s.ChatID, "hello")
			if !errors.Is(err, want) {
				t.Errorf("want %v, got %v", want, err)
			}
			for _, other := range []error{channel.ErrBlocked, channel.ErrUnauthorized, channel.ErrTemporary} {
				if other != want && errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
		}
		for _, want := range s.Waits {
			env := sdktest.NewEnv()
			names := s.Setup(env)
			env.HTTP.Handler = s.Answer(want)
			err := s.New(env.Env, names).SendText(s.ChatID, "hello")
			if d, ok := channel.RetryAfter(err); !ok || d <= 0 || !errors.Is(err, channel.ErrTemporary) {
				t.Errorf("flood control %v: got %v, wait %v", want, err, d)
			}
		}
	})
	t.Run("a host that cannot reach the messenger is a temporary failure", func(t *testing.T) {
		env := sdktest.NewEnv()
		names := s.Setup(env)
		env.HTTP.Handler = func(*abi.Request) (*abi.Response, error) { return nil, sdk.ErrUnavailable }
		if err := s.New(env.Env, names).SendText(s.ChatID, "hello"); !errors.Is(err, channel.ErrTemporary) {
			t.Errorf("got %v, want ErrTemporary", err)
		}
	})
}

// ErrFlood asks Suite.Answer for the messenger's flood-control failure.
var ErrFlood = errors.New("channeltest: flood control")
