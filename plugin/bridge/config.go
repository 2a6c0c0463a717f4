package bridge

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Config is one Jira project's settings, stored as JSON under config:<PROJECT>.
// It names the secrets that hold the bot token and the webhook secret but
// never holds them.
type Config struct {
	ProjectKey        string   `json:"projectKey"`
	Enabled           bool     `json:"enabled"`
	Channel           string   `json:"channel"`
	ServiceDeskID     string   `json:"serviceDeskId"`
	RequestTypeID     string   `json:"requestTypeId"`
	SummaryTemplate   string   `json:"summaryTemplate"`
	Greeting          string   `json:"greeting,omitempty"`
	ResolutionMessage string   `json:"resolutionMessage,omitempty"`
	AttachmentsIn     []string `json:"attachmentsIn"`
	AttachmentsOut    bool     `json:"attachmentsOut"`
	Language          string   `json:"language"`
	// Satisfaction asks the customer to rate a resolved request
	// (satisfaction.go); on for new projects.
	Satisfaction bool `json:"satisfaction,omitempty"`
	// RelayReactions puts a customer's reactions (Telegram, WhatsApp) on
	// their request as internal notes; off by default: reactions are
	// ignored (media.go).
	RelayReactions bool `json:"relayReactions,omitempty"`
	// RetentionDays is how long the mapping of a resolved request is kept
	// after its last activity; 0 means DefaultRetentionDays (privacy.go).
	RetentionDays int `json:"retentionDays,omitempty"`
	// Bot is the bot's username, shown to admins.
	Bot string `json:"bot,omitempty"`
	// BotID is the bot's numeric id: one bot serves one project, since a
	// messenger keeps one webhook per bot.
	BotID string `json:"botId,omitempty"`
	// Topics: the bot has topics in private chats (Telegram's getMe
	// has_topics_enabled, asked at every save): each request gets its
	// own topic (topics.go).
	Topics bool `json:"topics,omitempty"`

	// Texts override the bot's texts per language: language code, then
	// text name (TextNames) to text. An empty map changes nothing.
	Texts map[string]map[string]string `json:"texts,omitempty"`
	// Acknowledge: the customer is told the key of the request their
	// message opened. Off unless set (RATIONALE.md, "Why is the
	// acknowledgement off by default?").
	Acknowledge bool `json:"acknowledge,omitempty"`
	// TimeZone is the IANA name of the time zone of Hours and Holidays;
	// "" means UTC.
	TimeZone string `json:"timeZone,omitempty"`
	// Hours are the business hours: a weekday ("mon" ... "sun") to its
	// opening ranges ("09:00-17:30"); a day not named is closed. Empty
	// means always open, and no out-of-hours reply (hours.go).
	Hours map[string][]string `json:"hours,omitempty"`
	// Holidays are dates (YYYY-MM-DD, in TimeZone) closed all day.
	Holidays []string `json:"holidays,omitempty"`
	// FloodLimit is how many messages a chat may send per
	// FloodWindowSeconds before the rest are dropped (abuse.go); 0 means
	// DefaultFloodLimit, -1 no limit. FloodWindowSeconds 0 means 60.
	FloodLimit         int `json:"floodLimit,omitempty"`
	FloodWindowSeconds int `json:"floodWindowSeconds,omitempty"`
	// HashKey keys the hashes of the project's blocked chats (abuse.go):
	// 32 random bytes in base64, made on the first block; never shown.
	HashKey string `json:"hashKey,omitempty"`
	// Identity is whether chats link to JSM customers (identity.go):
	// IdentityOff (""), IdentityOptional or IdentityRequired.
	Identity string `json:"identity,omitempty"`
	// RequestTypeMenu are the request types a chat's first message offers
	// (routing.go), resolved by name when saved; empty: no menu, every
	// request is of RequestTypeID, which is also the type when the
	// customer does not choose.
	RequestTypeMenu []MenuType `json:"requestTypeMenu,omitempty"`
	// Templates are approved WhatsApp message templates that re-open a
	// conversation outside the reply window (template.go); empty: a reply
	// outside it only gets the agents' note.
	Templates []WindowTemplate `json:"templates,omitempty"`
	// Bots are more bots or numbers besides this one (bots.go).
	Bots []ExtraBot `json:"bots,omitempty"`
	// AllowedOrigins are the page origins ("https://shop.example") the
	// website widget (channel web) serves; any other page gets nothing.
	AllowedOrigins []string `json:"allowedOrigins,omitempty"`

	TokenSecret   string `json:"tokenSecret"`
	WebhookSecret string `json:"webhookSecret"`
}

// DefaultSummaryTemplate is the summary of a new request unless configured.
const DefaultSummaryTemplate = "Chat with {name}: {text}"

// Limits of configuration fields.
const (
	maxSummary     = 255  // Jira's summary limit, in characters
	maxMessageText = 4000 // greeting and resolution message, in characters
)

var projectKeyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,99}$`)

// ValidProjectKey reports whether key can be a Jira project key.
func ValidProjectKey(key string) bool { return projectKeyPattern.MatchString(key) }

func (c *Config) secrets() channel.Secrets {
	return channel.Secrets{Token: c.TokenSecret, Webhook: c.WebhookSecret}
}

func (c *Config) accepts(k channel.AttachmentKind) bool {
	return slices.Contains(c.AttachmentsIn, string(k))
}

// view is what config.get and config.list show: no secret names.
type view struct {
	ProjectKey        string   `json:"projectKey"`
	Enabled           bool     `json:"enabled"`
	Channel           string   `json:"channel"`
	ServiceDeskID     string   `json:"serviceDeskId"`
	RequestTypeID     string   `json:"requestTypeId"`
	SummaryTemplate   string   `json:"summaryTemplate"`
	Greeting          string   `json:"greeting"`
	ResolutionMessage string   `json:"resolutionMessage"`
	AttachmentsIn     []string `json:"attachmentsIn"`
	AttachmentsOut    bool     `json:"attachmentsOut"`
	Language          string   `json:"language"`
	RetentionDays     int      `json:"retentionDays"`
	Satisfaction      bool     `json:"satisfaction"`
	Bot               string   `json:"bot,omitempty"`
	TokenSet          bool     `json:"tokenSet"`

	Texts              map[string]map[string]string `json:"texts"`
	Acknowledge        bool                         `json:"acknowledge"`
	TimeZone           string                       `json:"timeZone"`
	Hours              map[string][]string          `json:"hours"`
	Holidays           []string                     `json:"holidays"`
	FloodLimit         int                          `json:"floodLimit"`
	FloodWindowSeconds int                          `json:"floodWindowSeconds"`
	Identity           string                       `json:"identity"`
	RequestTypeMenu    []string                     `json:"requestTypeMenu"`
	Templates          []WindowTemplate             `json:"templates"`
	Bots               []map[string]string          `json:"bots"`
	RelayReactions     bool                         `json:"relayReactions"`
	AllowedOrigins     []string                     `json:"allowedOrigins"`
}

func (c *Config) view() view {
	in := c.AttachmentsIn
	if in == nil {
		in = []string{}
	}
	v := view{
		ProjectKey: c.ProjectKey, Enabled: c.Enabled, Channel: c.Channel,
		ServiceDeskID: c.ServiceDeskID, RequestTypeID: c.RequestTypeID,
		SummaryTemplate: c.SummaryTemplate, Greeting: c.Greeting, ResolutionMessage: c.ResolutionMessage,
		AttachmentsIn: in, AttachmentsOut: c.AttachmentsOut, Language: c.Language,
		RetentionDays: c.retentionDays(), Satisfaction: c.Satisfaction, Bot: c.Bot, TokenSet: c.TokenSecret != "",
		Texts: c.Texts, Acknowledge: c.Acknowledge, TimeZone: c.TimeZone, Hours: c.Hours, Holidays: c.Holidays,
		FloodLimit: c.FloodLimit, FloodWindowSeconds: c.FloodWindowSeconds, Identity: c.identity(), RelayReactions: c.RelayReactions, AllowedOrigins: c.AllowedOrigins,
		RequestTypeMenu: c.menuNames(), Templates: c.Templates, Bots: c.botViews(),
	}
	if v.Templates == nil {
		v.Templates = []WindowTemplate{}
	}
	if v.AllowedOrigins == nil {
		v.AllowedOrigins = []string{}
	}
	if v.Texts == nil {
		v.Texts = map[string]map[string]string{}
	}
	if v.Hours == nil {
		v.Hours = map[string][]string{}
	}
	if v.Holidays == nil {
		v.Holidays = []string{}
	}
	return v
}

// setInput is the payload of config.set. Pointers tell absent from empty;
// an absent field keeps its stored value. On a project's first save the
// defaults are: enabled, channel "telegram", DefaultSummaryTemplate, the
// language's greeting and resolution message, every attachment kind
// accepted, agents' attachments sent, language "en", no acknowledgement,
// always open, the default flood limit.
type setInput struct {
	ProjectKey        string    `json:"projectKey"`
	Enabled           *bool     `json:"enabled"`
	Channel           *string   `json:"channel"`
	BotToken          *string   `json:"botToken"`
	ServiceDeskID     *string   `json:"serviceDeskId"`
	RequestTypeID     *string   `json:"requestTypeId"`
	SummaryTemplate   *string   `json:"summaryTemplate"`
	Greeting          *string   `json:"greeting"`
	ResolutionMessage *string   `json:"resolutionMessage"`
	AttachmentsIn     *[]string `json:"attachmentsIn"`
	AttachmentsOut    *bool     `json:"attachmentsOut"`
	Language          *string   `json:"language"`
	RetentionDays     *int      `json:"retentionDays"`
	// Texts replaces the whole map of overrides; an empty map clears them.
	Texts              *map[string]map[string]string `json:"texts"`
	Acknowledge        *bool                         `json:"acknowledge"`
	TimeZone           *string                       `json:"timeZone"`
	Hours              *map[string][]string          `json:"hours"`
	Holidays           *[]string                     `json:"holidays"`
	FloodLimit         *int                          `json:"floodLimit"`
	FloodWindowSeconds *int                          `json:"floodWindowSeconds"`
	Satisfaction       *bool                         `json:"satisfaction"`
	Identity           *string                       `json:"identity"`
	// RequestTypeMenu names the request types of the first-message menu
	// (routing.go); an empty list removes the menu.
	RequestTypeMenu *[]string         `json:"requestTypeMenu"`
	Templates       *[]WindowTemplate `json:"templates"`
	RelayReactions  *bool             `json:"relayReactions"`
	// AllowedOrigins replaces the widget's allowed page origins.
	AllowedOrigins *[]string `json:"allowedOrigins"`
	// Read-only fields of config.get, accepted so that a UI can send back
	// what it read.
	TokenSet *bool   `json:"tokenSet"`
	Bot      *string `json:"bot"`
}

// answer is a resolver's JSON reply.
type answer map[string]any

func okAnswer(kv ...any) answer {
	a := answer{"ok": true}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i].(string)] = kv[i+1]
	}
	return a
}

func fieldErrors(errs map[string]string) answer { return answer{"ok": false, "errors": errs} }

// Resolver answers the admin functions config.set, config.get,
// config.delete and config.list, privacy.go's mappings.list,
// mappings.forget and inventory, and choices.go's servicedesks.list and
// config.options. Validation problems are answers with
// ok:false and per-field messages; malformed input is abi.InvalidArgument.
func (b *Bridge) Resolver(env *sdk.Env, c *abi.ResolverCall) ([]byte, error) {
	var (
		a   answer
		err error
	)
	switch c.Function {
	case "config.set":
		a, err = b.configSet(env, c)
	case "config.get":
		a, err = b.configGet(env, c.Payload)
	case "config.delete":
		a, err = b.configDelete(env, c.Payload)
	case "config.list":
		a, err = b.configList(env)
	case "mappings.list":
		a, err = b.mappingsList(env, c.Payload)
	case "mappings.forget":
		a, err = b.mappingsForget(env, c.Payload)
	case "inventory":
		a, err = b.inventory(env, c.Payload)
	case "servicedesks.list":
		a, err = b.serviceDesksList(env, c.Payload)
	case "config.options":
		a = b.configOptions()
	case "blocks.add":
		a, err = b.blocksAdd(env, c.Payload)
	case "blocks.remove":
		a, err = b.blocksRemove(env, c.Payload)
	case "blocks.list":
		a, err = b.blocksList(env, c.Payload)
	case "bots.add":
		a, err = b.botsAdd(env, c) // bots.go
	case "bots.remove":
		a, err = b.botsRemove(env, c.Payload)
	default:
		return nil, abi.InvalidArgument
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(a)
}

// decodeStrict decodes JSON that must match v exactly.
func decodeStrict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return abi.InvalidArgument
	}
	if d.More() {
		return abi.InvalidArgument
	}
	return nil
}

type projectInput struct {
	ProjectKey string `json:"projectKey"`
}

func (b *Bridge) configGet(env *sdk.Env, payload []byte) (answer, error) {
	var in projectInput
	if err := decodeStrict(payload, &in); err != nil {
		return nil, err
	}
	if !ValidProjectKey(in.ProjectKey) {
		return fieldErrors(map[string]string{"projectKey": "Not a Jira project key."}), nil
	}
	var cfg Config
	found, err := store{env.Storage}.get(configKey(in.ProjectKey), &cfg)
	if err != nil {
		return nil, err
	}
	if !found {
		return fieldErrors(map[string]string{"projectKey": "This project has no chat configuration."}), nil
	}
	return okAnswer("config", cfg.view()), nil
}

func (b *Bridge) configList(env *sdk.Env) (answer, error) {
	views := []view{}
	cursor := ""
	for {
		page, err := env.Storage.Query("config:", cursor, 100)
		if err != nil {
			return nil, fmt.Errorf("bridge: list configurations: %w", err)
		}
		for _, e := range page.Entries {
			var cfg Config
			if json.Unmarshal(e.Value, &cfg) == nil {
				views = append(views, cfg.view())
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	return okAnswer("configs", views), nil
}

func (b *Bridge) configDelete(env *sdk.Env, payload []byte) (answer, error) {
	var in projectInput
	if err := decodeStrict(payload, &in); err != nil {
		return nil, err
	}
	if !ValidProjectKey(in.ProjectKey) {
		return fieldErrors(map[string]string{"projectKey": "Not a Jira project key."}), nil
	}
	p := in.ProjectKey
	st := store{env.Storage}
	log := logger(env, "project", p)
	var cfg Config
	found, err := st.get(configKey(p), &cfg)
	if err != nil {
		return nil, err
	}
	webhookRemoved := false
	if found {
		if k, ok := b.kinds()[cfg.Channel]; ok && cfg.TokenSecret != "" {
			if err := k.New(env, cfg.secrets()).Unregister(); err != nil {
				log.Warn("could not remove the webhook; deleting the configuration anyway", "err", err)
			} else {
				webhookRemoved = true
			}
		}
		for _, name := range b.kinds()[cfg.Channel].secretNames(cfg.TokenSecret, cfg.WebhookSecret) {
			if name != "" {
				if err := env.Secrets.Delete(name); err != nil && !errors.Is(err, sdk.ErrNotFound) {
					return nil, fmt.Errorf("bridge: delete secret: %w", err)
				}
			}
		}
		b.retireBots(env, cfg.Bots) // bots.go
	}
	// Mappings and delivery records go even without a configuration, so
	// that a half-finished delete can be completed.
	total := 0
	prefixes := []string{"chat:" + p + ":", "issue:" + p + "-", "dedupe:jira:" + p + ":", "seen:" + p + ":",
		"sent:" + p + ":", "forgot:" + p + ":", sweepKey(p), "block:" + p + ":", "closed:" + p + ":", "flood:" + p + ":", "csat:" + p + ":", "link:" + p + ":", "linkrate:" + p + ":", "linkaddr:" + p + ":", "route:" + p + ":", "held:" + p + ":"}
	for _, k := range b.kinds() {
		prefixes = append(prefixes, "dedupe:"+k.Short+":"+p+":")
	}
	for _, prefix := range prefixes {
		n, err := st.deleteAll(prefix)
		total += n
		if err != nil {
			return nil, err
		}
	}
	if err := st.del(configKey(p)); err != nil {
		return nil, err
	}
	log.Info("configuration deleted", "records", total)
	return okAnswer("deleted", found, "records", total, "webhookRemoved", webhookRemoved), nil
}

// configSet validates and saves a configuration. Order: local checks, then
// the service desk and request type in Jira, then the token with the
// messenger, then the webhook; nothing is saved unless all pass.
func (b *Bridge) configSet(env *sdk.Env, c *abi.ResolverCall) (answer, error) {
	var in setInput
	if err := decodeStrict(c.Payload, &in); err != nil {
		return nil, err
	}
	if !ValidProjectKey(in.ProjectKey) {
		return fieldErrors(map[string]string{"projectKey": "Not a Jira project key (upper-case letters, digits and _, starting with a letter)."}), nil
	}
	p := in.ProjectKey
	st := store{env.Storage}
	var old Config
	exists, err := st.get(configKey(p), &old)
	if err != nil {
		return nil, err
	}
	cfg := old
	if !exists {
		cfg = newConfig(p)
	}
	in.applyTo(&cfg)
	token := ""
	if in.BotToken != nil {
		token = strings.TrimSpace(*in.BotToken)
	}
	kind, kindOK := b.kinds()[cfg.Channel]
	errs := b.configProblems(cfg, old, exists, token)
	hookURL := ""
	if kindOK && cfg.Enabled {
		hookURL = webhookURL(c.Context.WebTriggers, kind.Trigger, p)
		if hookURL == "" {
			errs["enabled"] = "This installation has no " + kind.Trigger + " web trigger; the app must be reinstalled."
		}
	}
	if len(errs) > 0 {
		return fieldErrors(errs), nil
	}

	// Jira: the service desk must belong to the project and offer the request type.
	jc := jira.Client{API: env.Jira}
	if field, msg := checkServiceDesk(&jc, p, cfg.ServiceDeskID, cfg.RequestTypeID); field != "" {
		return fieldErrors(map[string]string{field: msg}), nil
	}
	if kindOK {
		capacity := menuCapacity(kind.New(env, cfg.secrets()))
		if msg := menuProblems(&jc, &cfg, in.RequestTypeMenu, cfg.ServiceDeskID != old.ServiceDeskID || cfg.Channel != old.Channel, capacity); msg != "" {
			return fieldErrors(map[string]string{"requestTypeMenu": msg}), nil // routing.go
		}
	}

	sv := &saving{env: env, kind: kind, log: logger(env, "project", p)}
	if field, msg, err := sv.connect(&cfg, token, hookURL, st); err != nil || field != "" {
		sv.undo()
		if err != nil {
			return nil, err
		}
		return fieldErrors(map[string]string{field: msg}), nil
	}
	cfg.ensureHashKey() // identity.go: the key of link codes and records
	if err := st.put(configKey(p), &cfg, 0); err != nil {
		sv.undo()
		return nil, err
	}
	if exists {
		b.retire(env, sv.log, old, cfg)
	}
	sv.log.Info("configuration saved", "enabled", cfg.Enabled)
	return okAnswer("config", cfg.view()), nil
}

// newConfig is a new project's configuration before its input is applied.
func newConfig(project string) Config {
	cfg := Config{ProjectKey: project, Enabled: true, Channel: "telegram", SummaryTemplate: DefaultSummaryTemplate,
		AttachmentsOut: true, Language: DefaultLanguage, Satisfaction: true}
	for _, k := range channel.AttachmentKinds {
		cfg.AttachmentsIn = append(cfg.AttachmentsIn, string(k))
	}
	return cfg
}

// applyTo sets the fields the input names, and the defaults of those it
// emptied.
func (in setInput) applyTo(cfg *Config) {
	setIf(&cfg.Enabled, in.Enabled)
	setIf(&cfg.Channel, in.Channel)
	setIf(&cfg.ServiceDeskID, in.ServiceDeskID)
	setIf(&cfg.RequestTypeID, in.RequestTypeID)
	setIf(&cfg.SummaryTemplate, in.SummaryTemplate)
	setIf(&cfg.Greeting, in.Greeting)
	setIf(&cfg.ResolutionMessage, in.ResolutionMessage)
	setIf(&cfg.AttachmentsOut, in.AttachmentsOut)
	setIf(&cfg.Language, in.Language)
	setIf(&cfg.RetentionDays, in.RetentionDays)
	setIf(&cfg.Texts, in.Texts)
	setIf(&cfg.Acknowledge, in.Acknowledge)
	setIf(&cfg.TimeZone, in.TimeZone)
	setIf(&cfg.Hours, in.Hours)
	setIf(&cfg.Holidays, in.Holidays)
	setIf(&cfg.FloodLimit, in.FloodLimit)
	setIf(&cfg.FloodWindowSeconds, in.FloodWindowSeconds)
	cfg.TimeZone = strings.TrimSpace(cfg.TimeZone)
	setIf(&cfg.Satisfaction, in.Satisfaction)
	setIf(&cfg.Identity, in.Identity)
	setIf(&cfg.Templates, in.Templates)
	setIf(&cfg.RelayReactions, in.RelayReactions)
	setIf(&cfg.AllowedOrigins, in.AllowedOrigins)
	if in.AttachmentsIn != nil {
		cfg.AttachmentsIn = []string{}
		for _, k := range *in.AttachmentsIn {
			if !slices.Contains(cfg.AttachmentsIn, k) {
				cfg.AttachmentsIn = append(cfg.AttachmentsIn, k)
			}
		}
	}
	cfg.ServiceDeskID = strings.TrimSpace(cfg.ServiceDeskID)
	cfg.RequestTypeID = strings.TrimSpace(cfg.RequestTypeID)
	if cfg.SummaryTemplate == "" {
		cfg.SummaryTemplate = DefaultSummaryTemplate
	}
	if cfg.Language == "" {
		cfg.Language = DefaultLanguage
	}
}

// configProblems are the local checks of a configuration about to be saved
// over old (when exists), by field; token is the new bot token, or "".
func (b *Bridge) configProblems(cfg, old Config, exists bool, token string) map[string]string {
	errs := map[string]string{}
	kind, kindOK := b.kinds()[cfg.Channel]
	if !kindOK {
		errs["channel"] = "Unknown channel; supported: " + strings.Join(b.kindNames(), ", ") + "."
	}
	switch {
	case kind.NoToken:
		if token != "" {
			errs["botToken"] = "The website widget takes no token."
		}
	case token != "" && kindOK:
		if problem := kind.TokenProblem(token); problem != "" {
			errs["botToken"] = problem
		}
	case token == "" && cfg.TokenSecret == "":
		errs["botToken"] = "A bot token is required."
	case token == "" && exists && old.Channel != cfg.Channel:
		errs["botToken"] = "A new channel needs its own bot token."
	}
	if !jira.ValidID(cfg.ServiceDeskID) {
		errs["serviceDeskId"] = "Choose a service desk (a numeric id)."
	}
	if !jira.ValidID(cfg.RequestTypeID) {
		errs["requestTypeId"] = "Choose a request type (a numeric id)."
	}
	if problem := templateProblem(cfg.SummaryTemplate); problem != "" {
		errs["summaryTemplate"] = problem
	}
	if utf8.RuneCountInString(cfg.Greeting) > maxMessageText {
		errs["greeting"] = fmt.Sprintf("At most %d characters.", maxMessageText)
	}
	if utf8.RuneCountInString(cfg.ResolutionMessage) > maxMessageText {
		errs["resolutionMessage"] = fmt.Sprintf("At most %d characters.", maxMessageText)
	}
	for _, k := range cfg.AttachmentsIn {
		if !slices.Contains(channel.AttachmentKinds, channel.AttachmentKind(k)) {
			errs["attachmentsIn"] = "Unknown kind " + quoteShort(k) + "; choose from photo, document, voice, video, sticker."
		}
	}
	if cfg.RetentionDays != 0 && (cfg.RetentionDays < 1 || cfg.RetentionDays > maxRetentionDays) {
		errs["retentionDays"] = fmt.Sprintf("Between 1 and %d days.", maxRetentionDays)
	}
	if _, ok := languages[cfg.Language]; !ok {
		errs["language"] = "Unsupported language; choose one of " + strings.Join(Languages(), ", ") + "."
	}
	textProblems(cfg.Texts, errs)
	_, _, hourErrs := parseSchedule(&cfg)
	for k, v := range hourErrs {
		errs[k] = v
	}
	floodProblems(&cfg, errs)
	identityProblems(&cfg, errs) // identity.go
	templateProblems(&cfg, errs) // template.go
	if kind.Origins {
		originProblems(cfg.AllowedOrigins, errs)
	}
	return errs
}

// saving is one configSet's effects outside its own record: the secrets it
// created, which undo removes again if the save does not complete.
type saving struct {
	env     *sdk.Env
	kind    Kind
	log     *slog.Logger
	created []string
}

func (sv *saving) undo() {
	for _, name := range sv.created {
		_ = sv.env.Secrets.Delete(name)
	}
}

// connect stores a new token (then used only by reference), checks it with
// the messenger, and registers the webhook with a fresh secret, or removes
// it for a disabled project, at hookURL. A problem the admin can fix comes
// back as a field and its message.
func (sv *saving) connect(cfg *Config, token, hookURL string, st store) (field, msg string, err error) {
	env, kind := sv.env, sv.kind
	if token != "" {
		cfg.TokenSecret = secretName("token", kind.Short, cfg.ProjectKey)
		put := func(s sdk.Secrets, name, token string) error { return s.Set(name, []byte(token)) }
		if kind.StoreToken != nil {
			put = kind.StoreToken
		}
		sv.created = append(sv.created, kind.secretNames(cfg.TokenSecret, "")...)
		if err := put(env.Secrets, cfg.TokenSecret, token); err != nil {
			return "", "", fmt.Errorf("bridge: store bot token: %w", err)
		}
	}
	ch := kind.New(env, cfg.secrets())
	bot, err := ch.Validate()
	if err != nil {
		sv.log.Warn("bot token check failed", "err", err)
		if errors.Is(err, channel.ErrUnauthorized) {
			return "botToken", "The messenger rejected this token (401 Unauthorized). Copy it again from @BotFather.", nil
		}
		return "botToken", "Could not check the token with the messenger; try again in a minute.", nil
	}
	cfg.Bot, cfg.BotID, cfg.Topics = bot.Username, bot.ID, bot.Topics
	other, err := projectWithBot(st, cfg.Channel, bot.ID, cfg.ProjectKey)
	if err != nil {
		return "", "", err
	}
	if other != "" {
		return "botToken", "This bot already serves project " + other + "; each project needs its own bot.", nil
	}
	if !cfg.Enabled {
		if err := ch.Unregister(); err != nil {
			sv.log.Warn("could not remove the webhook of a disabled project", "err", err)
		}
		return "", "", nil
	}
	// setWebhook without secret_token would drop the secret, and the
	// module cannot read the stored one back: every registration gets a
	// fresh secret, and the previous one is deleted after the save.
	secret := randomSecret()
	cfg.WebhookSecret = secretName("webhook", kind.Short, cfg.ProjectKey)
	if err := env.Secrets.Set(cfg.WebhookSecret, []byte(secret)); err != nil {
		return "", "", fmt.Errorf("bridge: store webhook secret: %w", err)
	}
	sv.created = append(sv.created, cfg.WebhookSecret)
	ch = kind.New(env, cfg.secrets())
	if err := ch.Register(hookURL, secret); err != nil {
		sv.log.Warn("webhook registration failed", "err", err)
		return "botToken", "The messenger refused to register the webhook; check the token and try again.", nil
	}
	return "", "", nil
}

// retire removes what the saved configuration no longer names: the old
// bot's webhook first, so that it stops calling with a secret about to
// vanish, then the secrets.
func (b *Bridge) retire(env *sdk.Env, log *slog.Logger, old, cfg Config) {
	// The same bot saved again (its token stored anew) already has its
	// webhook replaced by the registration: removing it would leave the
	// project deaf.
	sameBot := old.Channel == cfg.Channel && old.BotID != "" && old.BotID == cfg.BotID
	if old.TokenSecret != "" && old.TokenSecret != cfg.TokenSecret && !sameBot {
		if ok := b.kinds()[old.Channel]; ok.New != nil {
			if err := ok.New(env, old.secrets()).Unregister(); err != nil {
				log.Warn("could not remove the previous bot's webhook", "err", err)
			}
		}
	}
	kind := b.kinds()[cfg.Channel]
	for _, name := range b.kinds()[old.Channel].secretNames(old.TokenSecret, old.WebhookSecret) {
		if name != "" && !slices.Contains(kind.secretNames(cfg.TokenSecret, cfg.WebhookSecret), name) {
			_ = env.Secrets.Delete(name)
		}
	}
}

// textProblems checks the overrides of texts: known languages and names,
// the text's own placeholders only, at most maxMessageText characters.
func textProblems(t map[string]map[string]string, errs map[string]string) {
	for lang, byName := range t {
		if _, ok := languages[lang]; !ok {
			errs["texts"] = "Unsupported language " + quoteShort(lang) + "; choose one of " + strings.Join(Languages(), ", ") + "."
			continue
		}
		for name, text := range byName {
			n, ok := lookupText(name)
			switch {
			case !ok:
				errs["texts"] = "Unknown text " + quoteShort(name) + "; the texts are " + strings.Join(TextNames(), ", ") + "."
			case utf8.RuneCountInString(text) > maxMessageText:
				errs["texts"] = fmt.Sprintf("%s.%s: at most %d characters.", lang, name, maxMessageText)
			case n.max > 0 && utf8.RuneCountInString(text) > n.max:
				errs["texts"] = fmt.Sprintf("%s.%s: at most %d characters (a button's label).", lang, name, n.max)
			default:
				rest := text
				for _, p := range n.placeholders {
					rest = strings.ReplaceAll(rest, p, "")
				}
				if placeholder.MatchString(rest) {
					known := "none"
					if len(n.placeholders) > 0 {
						known = strings.Join(n.placeholders, " ")
					}
					errs["texts"] = lang + "." + name + ": unknown placeholder; this text knows " + known + "."
				}
			}
		}
	}
}

// placeholder is what a text's placeholder looks like.
var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// kindNames lists the configured channels' names, sorted.
func (b *Bridge) kindNames() []string {
	var names []string
	for name := range b.kinds() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// projectWithBot names another project served by the same bot, or "".
func projectWithBot(st store, ch, botID, except string) (string, error) {
	if botID == "" {
		return "", nil
	}
	cursor := ""
	for {
		page, err := st.s.Query("config:", cursor, 100)
		if err != nil {
			return "", fmt.Errorf("bridge: list configurations: %w", err)
		}
		for _, e := range page.Entries {
			var c Config
			if json.Unmarshal(e.Value, &c) == nil && c.ProjectKey != except && (c.Channel == ch && c.BotID == botID ||
				slices.ContainsFunc(c.Bots, func(x ExtraBot) bool { return x.Channel == ch && x.BotID == botID })) {
				return c.ProjectKey, nil
			}
		}
		if page.NextCursor == "" {
			return "", nil
		}
		cursor = page.NextCursor
	}
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// checkServiceDesk answers the field to blame and a message, or "" when the
// service desk belongs to project and offers the request type.
func checkServiceDesk(jc *jira.Client, project, deskID, typeID string) (string, string) {
	desks, err := jc.ServiceDesks()
	if err != nil {
		return "serviceDeskId", jiraProblem(err)
	}
	var desk *jira.ServiceDesk
	for i := range desks {
		if desks[i].ID == deskID {
			desk = &desks[i]
		}
	}
	if desk == nil {
		return "serviceDeskId", "No service desk with this id on this site."
	}
	if desk.ProjectKey != project {
		return "serviceDeskId", "This service desk belongs to project " + desk.ProjectKey + ", not " + project + "."
	}
	types, err := jc.RequestTypes(deskID)
	if err != nil {
		return "requestTypeId", jiraProblem(err)
	}
	for _, t := range types {
		if t.ID == typeID {
			return "", ""
		}
	}
	return "requestTypeId", "This service desk has no request type with this id."
}

func jiraProblem(err error) string {
	switch {
	case errors.Is(err, jira.ErrDenied):
		return "The app may not read this project's service desk; check its permissions."
	case errors.Is(err, jira.ErrTemporary):
		return "Jira is busy or unavailable; try again in a minute."
	}
	return "Could not check this with Jira."
}

// templateProblem checks a summary template: placeholders {name} and
// {text} only, at most 255 characters.
func templateProblem(t string) string {
	if utf8.RuneCountInString(t) > maxSummary {
		return fmt.Sprintf("At most %d characters.", maxSummary)
	}
	if strings.ContainsAny(t, "\r\n") {
		return "A summary is one line."
	}
	rest := strings.NewReplacer("{name}", "", "{text}", "").Replace(t)
	if strings.ContainsAny(rest, "{}") {
		return "Only the placeholders {name} and {text} are known."
	}
	return ""
}

func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > 20 {
		s = string([]rune(s)[:20]) + "…"
	}
	return `"` + s + `"`
}

// webhookURL is the installation's public URL of a web trigger with the
// project as a query parameter.
func webhookURL(triggers []abi.Header, key, project string) string {
	base := ""
	for _, t := range triggers {
		if t.Name == key {
			base = t.Value
		}
	}
	if base == "" {
		return ""
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "project=" + project
}

// randomSecret is a webhook secret: 32 random bytes in the alphabet
// Telegram allows for secret_token (A-Z a-z 0-9 _ -).
func randomSecret() string {
	var buf [32]byte
	_, _ = rand.Read(buf[:])
	return base64.RawURLEncoding.EncodeToString(buf[:])
}

// secretName is a fresh secret name for one project: a new name per token
// lets a failed change leave the working one in place.
func secretName(what, short, project string) string {
	return "chatbridge." + short + "." + what + "." + project + "." + newNonce()
}
