package bridge

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// # Several bots or numbers per project
//
// A project's own bot (Config.Channel, TokenSecret) may be joined by more
// bots or numbers of any channel (Config.Bots), added with bots.add and
// removed with bots.remove. Each has a route name, "<channel>.<n>"
// ("telegram.2"), under which its chats are kept (chat:, issue:, seen:...
// records name the route where they name the channel), and its own webhook
// URL, the project's with "&bot=<route>": an update is routed by the bot it
// came through, and a reply leaves through the bot its chat wrote to. The
// same person writing to two bots is two chats (Telegram gives a user the
// same chat id in every bot). Requests carry the channel's label, not the
// route's; their description names the channel.

// ExtraBot is a bot or number besides the project's own.
type ExtraBot struct {
	// Route names its chats in storage and its webhook ("telegram.2").
	Route   string `json:"route"`
	Channel string `json:"channel"`
	// Bot and BotID name the bot as the messenger does.
	Bot   string `json:"bot,omitempty"`
	BotID string `json:"botId,omitempty"`
	// Topics: the bot has topics in private chats (topics.go).
	Topics bool `json:"topics,omitempty"`
	// TokenSecret and WebhookSecret name its secrets.
	TokenSecret   string `json:"tokenSecret"`
	WebhookSecret string `json:"webhookSecret"`
}

// maxBots bounds the extra bots of a project.
const maxBots = 10

func (x *ExtraBot) secrets() channel.Secrets {
	return channel.Secrets{Token: x.TokenSecret, Webhook: x.WebhookSecret}
}

// channelOf is the channel of a route ("telegram.2" -> "telegram"); a
// channel's own name is its project bot's route.
func channelOf(route string) string {
	ch, _, _ := strings.Cut(route, ".")
	return ch
}

// endpoint finds the kind and secrets of a route of cfg: its own bot's, or
// an extra bot's.
func (b *Bridge) endpoint(cfg *Config, route string) (Kind, channel.Secrets, bool) {
	if route == cfg.Channel {
		k, ok := b.kinds()[cfg.Channel]
		return k, cfg.secrets(), ok
	}
	for i := range cfg.Bots {
		if x := &cfg.Bots[i]; x.Route == route {
			k, ok := b.kinds()[x.Channel]
			return k, x.secrets(), ok
		}
	}
	return Kind{}, channel.Secrets{}, false
}

// webhookRoute is the route a webhook delivery names (its "bot" query
// parameter), else the channel's own.
func webhookRoute(req *abi.WebTriggerRequest, name string) string {
	if bot := abi.Get(req.Query, "bot"); bot != "" {
		return bot
	}
	return name
}

// routedEventID keeps the event ids of an extra bot apart from the project
// bot's, which its messenger counts separately (Telegram's update_id).
func routedEventID(route, id string) string {
	if !strings.Contains(route, ".") {
		return id
	}
	return route + "." + id
}

type botInput struct {
	ProjectKey string `json:"projectKey"`
	Channel    string `json:"channel"`
	BotToken   string `json:"botToken"`
}

// botsAdd adds a bot or number to a project: the token is stored and
// checked with the messenger, the bot must serve no other project (nor
// this one already), and its webhook is registered with a fresh secret.
func (b *Bridge) botsAdd(env *sdk.Env, c *abi.ResolverCall) (answer, error) {
	var in botInput
	if err := decodeStrict(c.Payload, &in); err != nil {
		return nil, err
	}
	if !ValidProjectKey(in.ProjectKey) {
		return fieldErrors(map[string]string{"projectKey": "Not a Jira project key."}), nil
	}
	st := store{env.Storage}
	var cfg Config
	found, err := st.get(configKey(in.ProjectKey), &cfg)
	if err != nil {
		return nil, err
	}
	if !found {
		return fieldErrors(map[string]string{"projectKey": "This project has no chat configuration."}), nil
	}
	kind, ok := b.kinds()[in.Channel]
	switch {
	case !ok:
		return fieldErrors(map[string]string{"channel": "Unknown channel; supported: " + strings.Join(b.kindNames(), ", ") + "."}), nil
	case len(cfg.Bots) >= maxBots:
		return fieldErrors(map[string]string{"channel": fmt.Sprintf("At most %d more bots per project.", maxBots)}), nil
	case !cfg.Enabled:
		return fieldErrors(map[string]string{"projectKey": "Enable the project first."}), nil
	}
	token := strings.TrimSpace(in.BotToken)
	if token == "" {
		return fieldErrors(map[string]string{"botToken": "A bot token is required."}), nil
	}
	if problem := kind.TokenProblem(token); problem != "" {
		return fieldErrors(map[string]string{"botToken": problem}), nil
	}
	route := ""
	for n := 2; route == ""; n++ {
		r := in.Channel + "." + strconv.Itoa(n)
		if !slices.ContainsFunc(cfg.Bots, func(x ExtraBot) bool { return x.Route == r }) {
			route = r
		}
	}
	hookURL := webhookURL(c.Context.WebTriggers, kind.Trigger, in.ProjectKey)
	if hookURL == "" {
		return fieldErrors(map[string]string{"channel": "This installation has no " + kind.Trigger + " web trigger; the app must be reinstalled."}), nil
	}
	hookURL += "&bot=" + route
	sv := &saving{env: env, kind: kind, log: logger(env, "project", in.ProjectKey, "channel", in.Channel)}
	x := ExtraBot{Route: route, Channel: in.Channel, TokenSecret: secretName("token", kind.Short, in.ProjectKey)}
	put := func(s sdk.Secrets, name, token string) error { return s.Set(name, []byte(token)) }
	if kind.StoreToken != nil {
		put = kind.StoreToken
	}
	sv.created = append(sv.created, kind.secretNames(x.TokenSecret, "")...)
	if err := put(env.Secrets, x.TokenSecret, token); err != nil {
		sv.undo()
		return nil, fmt.Errorf("bridge: store bot token: %w", err)
	}
	bot, err := kind.New(env, x.secrets()).Validate()
	if err != nil {
		sv.undo()
		if errors.Is(err, channel.ErrUnauthorized) {
			return fieldErrors(map[string]string{"botToken": "The messenger rejected this token (401 Unauthorized)."}), nil
		}
		return fieldErrors(map[string]string{"botToken": "Could not check the token with the messenger; try again in a minute."}), nil
	}
	x.Bot, x.BotID, x.Topics = bot.Username, bot.ID, bot.Topics
	if cfg.Channel == in.Channel && cfg.BotID == bot.ID || slices.ContainsFunc(cfg.Bots, func(o ExtraBot) bool { return o.Channel == in.Channel && o.BotID == bot.ID }) {
		sv.undo()
		return fieldErrors(map[string]string{"botToken": "This bot serves this project already."}), nil
	}
	if other, err := projectWithBot(st, in.Channel, bot.ID, in.ProjectKey); err != nil || other != "" {
		sv.undo()
		if err != nil {
			return nil, err
		}
		return fieldErrors(map[string]string{"botToken": "This bot already serves project " + other + "; each project needs its own bot."}), nil
	}
	secret := randomSecret()
	x.WebhookSecret = secretName("webhook", kind.Short, in.ProjectKey)
	sv.created = append(sv.created, x.WebhookSecret)
	if err := env.Secrets.Set(x.WebhookSecret, []byte(secret)); err != nil {
		sv.undo()
		return nil, fmt.Errorf("bridge: store webhook secret: %w", err)
	}
	// Saved before the registration: a messenger that checks the URL at
	// once (WhatsApp's verification) finds the bot.
	cfg.Bots = append(cfg.Bots, x)
	if err := st.put(configKey(in.ProjectKey), &cfg, 0); err != nil {
		sv.undo()
		return nil, err
	}
	if err := kind.New(env, x.secrets()).Register(hookURL, secret); err != nil {
		sv.log.Warn("webhook registration failed", "err", err)
		cfg.Bots = cfg.Bots[:len(cfg.Bots)-1]
		_ = st.put(configKey(in.ProjectKey), &cfg, 0)
		sv.undo()
		return fieldErrors(map[string]string{"botToken": "The messenger refused to register the webhook; check the token and try again."}), nil
	}
	sv.log.Info("bot added", "records", len(cfg.Bots))
	return okAnswer("config", cfg.view()), nil
}

type botRemoveInput struct {
	ProjectKey string `json:"projectKey"`
	Route      string `json:"route"`
}

// botsRemove removes an extra bot: its webhook, its secrets, its entry.
// Its chats' mappings stay until the retention sweep or a forget; replies
// to them are dropped.
func (b *Bridge) botsRemove(env *sdk.Env, payload []byte) (answer, error) {
	var in botRemoveInput
	if err := decodeStrict(payload, &in); err != nil {
		return nil, err
	}
	st := store{env.Storage}
	var cfg Config
	found, err := st.get(configKey(in.ProjectKey), &cfg)
	if err != nil || !ValidProjectKey(in.ProjectKey) {
		return nil, err
	}
	i := slices.IndexFunc(cfg.Bots, func(x ExtraBot) bool { return x.Route == in.Route })
	if !found || i < 0 {
		return fieldErrors(map[string]string{"route": "This project has no such bot."}), nil
	}
	x := cfg.Bots[i]
	cfg.Bots = slices.Delete(cfg.Bots, i, i+1)
	if err := st.put(configKey(in.ProjectKey), &cfg, 0); err != nil {
		return nil, err
	}
	b.retireBots(env, []ExtraBot{x})
	return okAnswer("config", cfg.view()), nil
}

// retireBots removes the webhooks and secrets of extra bots; failures are
// logged: the bots are gone from the configuration already.
func (b *Bridge) retireBots(env *sdk.Env, bots []ExtraBot) {
	for _, x := range bots {
		k, ok := b.kinds()[x.Channel]
		if !ok {
			continue
		}
		if err := k.New(env, x.secrets()).Unregister(); err != nil {
			env.Log.Warn("could not remove an extra bot's webhook", "err", err)
		}
		for _, name := range k.secretNames(x.TokenSecret, x.WebhookSecret) {
			_ = env.Secrets.Delete(name)
		}
	}
}

// botViews are the extra bots as config.get shows them: no secret names.
func (c *Config) botViews() []map[string]string {
	out := []map[string]string{}
	for _, x := range c.Bots {
		out = append(out, map[string]string{"route": x.Route, "channel": x.Channel, "bot": x.Bot})
	}
	return out
}
