package bridge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/web"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
)

// Abuse control: a project's block list and a flood limit per chat.
//
// A blocked chat's messages are dropped unanswered (an answer would tell
// an abuser to try another account) and reach Jira no more. The list holds
// no chat id: each entry is keyed by an HMAC of the chat under the
// project's own random key (Config.HashKey), so that the list, even read in
// the clear, cannot be checked against guessed ids (a WhatsApp chat id is a
// phone number, few enough to try them all against a plain hash). A
// customer's /forget leaves the block in place, and is never refused.
//
// The flood limit counts a chat's messages in a window that starts with
// its first message; the messages over the limit are dropped, not held,
// and the chat is told so once per window (RATIONALE.md, "Why are messages
// over the flood limit dropped, not held?").

// Flood limit defaults.
const (
	DefaultFloodLimit  = 60 // a message a second for a minute: no typing person, but a paste or a loop
	DefaultFloodWindow = 60 * time.Second
	maxFloodLimit      = 1000
	maxFloodWindow     = 3600 // seconds
)

// flood is the project's limit (messages per window); limit < 0 means none.
func (c *Config) flood() (limit int, window time.Duration) {
	limit, window = c.FloodLimit, time.Duration(c.FloodWindowSeconds)*time.Second
	if limit == 0 {
		limit = DefaultFloodLimit
	}
	if window <= 0 {
		window = DefaultFloodWindow
	}
	return limit, window
}

func floodProblems(c *Config, errs map[string]string) {
	if c.FloodLimit < -1 || c.FloodLimit > maxFloodLimit {
		errs["floodLimit"] = "Between 1 and " + strconv.Itoa(maxFloodLimit) + " messages, 0 for the default (" +
			strconv.Itoa(DefaultFloodLimit) + "), or -1 for no limit."
	}
	if c.FloodWindowSeconds < 0 || c.FloodWindowSeconds > maxFloodWindow {
		errs["floodWindowSeconds"] = "Between 1 and " + strconv.Itoa(maxFloodWindow) + " seconds, or 0 for the default (60)."
	}
}

func floodKey(project, ch, chatID string) string {
	return "flood:" + project + ":" + chatHash("flood", project, ch, chatID)
}

// floodRecord counts a chat's messages in the window starting At (Unix
// seconds); Told is set once the chat was told it is over the limit.
type floodRecord struct {
	At   int64 `json:"at"`
	N    int   `json:"n"`
	Told bool  `json:"told,omitempty"`
}

// flooded counts this message against the chat's window, once per event
// (its progress records the verdict), and reports whether it is over the
// limit. The chat's lane runs one message at a time, so the count is read
// and written by one delivery at a time; a crash between the count and the
// progress record counts that message twice, erring towards the limit.
func (w *inbound) flooded() (bool, error) {
	if w.prog.has("flooded") {
		return true, nil
	}
	if w.prog.has("counted") {
		return false, nil
	}
	limit, window := w.cfg.flood()
	if limit < 0 {
		return false, nil
	}
	key := floodKey(w.job.Project, w.job.Channel, w.job.Event.ChatID)
	var f floodRecord
	found, err := w.st.get(key, &f)
	if err != nil {
		return false, err
	}
	now := w.b.now()
	if !found || now.Unix() >= f.At+int64(window/time.Second) || f.At > now.Unix() {
		f = floodRecord{At: now.Unix()}
	}
	f.N++
	over := f.N > limit
	notify := over && !f.Told
	f.Told = f.Told || over
	ttl := max(time.Unix(f.At, 0).Add(window).Sub(now), time.Second)
	if err := w.st.put(key, &f, ttl); err != nil {
		return false, err
	}
	w.prog.Steps = append(w.prog.Steps, "counted")
	if over {
		w.prog.Steps = append(w.prog.Steps, "flooded")
		w.log.Info("inbound: chat over the flood limit; message dropped")
	}
	if notify {
		w.prog.Steps = append(w.prog.Steps, "floodNotice")
	}
	return over, w.saveProgress()
}

// floodNotice tells the chat, once per window, that its messages are not
// passed on for now.
func (w *inbound) floodNotice() error {
	if !w.prog.has("floodNotice") {
		return nil
	}
	_, window := w.cfg.flood()
	minutes := strconv.Itoa(int((window + time.Minute - 1) / time.Minute))
	return w.replyStep("floodReply", fill(w.texts().Flood, "{minutes}", minutes))
}

// blockKey names a blocked chat by the HMAC of its project, channel and id
// under the project's hash key.
func blockKey(project string, hashKey []byte, ch, chatID string) string {
	return "block:" + project + ":" + blockID(project, hashKey, ch, chatID)
}

func blockID(project string, hashKey []byte, ch, chatID string) string {
	m := hmac.New(sha256.New, hashKey)
	m.Write([]byte(project + "\x00" + ch + "\x00" + chatID))
	return hex.EncodeToString(m.Sum(nil))
}

// blockRecord is one blocked chat: when it was blocked (Unix seconds).
type blockRecord struct {
	At int64 `json:"at"`
}

func (c *Config) hashKey() []byte {
	k, err := base64.RawStdEncoding.DecodeString(c.HashKey)
	if err != nil || len(k) < 16 {
		return nil
	}
	return k
}

// isBlocked reports whether the event's chat is on the project's block list.
func (w *inbound) isBlocked() (bool, error) {
	k := w.cfg.hashKey()
	if k == nil {
		return false, nil // the project never blocked anyone
	}
	var r blockRecord
	return w.st.get(blockKey(w.job.Project, k, w.job.Channel, w.job.Event.ChatID), &r)
}

// blockInput names a chat to block or unblock: by a request of its
// (issueKey), by its channel and id (chat, for an id the admin knows, such
// as a WhatsApp number), or (unblocking) by its entry's id from blocks.list.
type blockInput struct {
	ProjectKey string `json:"projectKey"`
	IssueKey   string `json:"issueKey,omitempty"`
	Channel    string `json:"channel,omitempty"`
	Chat       string `json:"chat,omitempty"`
	ID         string `json:"id,omitempty"`
}

// blocked is one row of blocks.list.
type blocked struct {
	ID    string `json:"id"`
	Since string `json:"since"`
}

// blocksAdd puts a chat on the project's block list, creating the
// project's hash key on the first block.
func (b *Bridge) blocksAdd(env *sdk.Env, payload []byte) (answer, error) {
	st, cfg, in, errs, err := b.blockTarget(env, payload, false)
	if err != nil || errs != nil {
		return errs, err
	}
	if cfg.hashKey() == nil {
		var k [32]byte
		_, _ = rand.Read(k[:])
		cfg.HashKey = base64.RawStdEncoding.EncodeToString(k[:])
		if err := st.put(configKey(cfg.ProjectKey), &cfg, 0); err != nil {
			return nil, err
		}
	}
	id := blockID(cfg.ProjectKey, cfg.hashKey(), in.Channel, in.Chat)
	if err := st.put("block:"+cfg.ProjectKey+":"+id, blockRecord{At: b.now().Unix()}, 0); err != nil {
		return nil, err
	}
	logger(env, "project", cfg.ProjectKey, "channel", in.Channel).Info("chat blocked at the admin's request")
	return okAnswer("id", id), nil
}

// blocksRemove takes a chat off the block list.
func (b *Bridge) blocksRemove(env *sdk.Env, payload []byte) (answer, error) {
	st, cfg, in, errs, err := b.blockTarget(env, payload, true)
	if err != nil || errs != nil {
		return errs, err
	}
	id := in.ID
	if id == "" && cfg.hashKey() != nil {
		id = blockID(cfg.ProjectKey, cfg.hashKey(), in.Channel, in.Chat)
	}
	gone := false
	if id != "" {
		if gone, err = st.delFound("block:" + cfg.ProjectKey + ":" + id); err != nil {
			return nil, err
		}
	}
	if gone {
		logger(env, "project", cfg.ProjectKey).Info("chat unblocked at the admin's request")
	}
	return okAnswer("removed", gone), nil
}

// blocksList lists the project's block list: entry ids and since when.
func (b *Bridge) blocksList(env *sdk.Env, payload []byte) (answer, error) {
	var in projectInput
	if err := decodeStrict(payload, &in); err != nil {
		return nil, err
	}
	if !ValidProjectKey(in.ProjectKey) {
		return fieldErrors(map[string]string{"projectKey": "Not a Jira project key."}), nil
	}
	rows := []blocked{}
	prefix := "block:" + in.ProjectKey + ":"
	err := eachRecord(store{env.Storage}, prefix, func(key string, v []byte) (bool, error) {
		at := field("at")(v)
		rows = append(rows, blocked{ID: strings.TrimPrefix(key, prefix), Since: time.Unix(at, 0).UTC().Format(time.RFC3339)})
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return okAnswer("blocked", rows), nil
}

// blockTarget decodes a blocks.add or blocks.remove and finds its chat.
func (b *Bridge) blockTarget(env *sdk.Env, payload []byte, byID bool) (store, Config, blockInput, answer, error) {
	st := store{env.Storage}
	var in blockInput
	var cfg Config
	if err := decodeStrict(payload, &in); err != nil {
		return st, cfg, in, nil, err
	}
	fail := func(field, msg string) (store, Config, blockInput, answer, error) {
		return st, cfg, in, fieldErrors(map[string]string{field: msg}), nil
	}
	if !ValidProjectKey(in.ProjectKey) {
		return fail("projectKey", "Not a Jira project key.")
	}
	found, err := st.get(configKey(in.ProjectKey), &cfg)
	if err != nil {
		return st, cfg, in, nil, err
	}
	if !found {
		return fail("projectKey", "This project has no chat configuration.")
	}
	given := 0
	for _, s := range []string{in.IssueKey, in.Chat + in.Channel, in.ID} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		if byID {
			return fail("issueKey", "Name the chat by one of issueKey, channel and chat, or id.")
		}
		return fail("issueKey", "Name the chat by one of issueKey, or channel and chat.")
	}
	switch {
	case in.ID != "":
		if !byID {
			return fail("id", "An id names a block to remove; block by issueKey, or channel and chat.")
		}
		if len(in.ID) != 64 || strings.Trim(in.ID, "0123456789abcdef") != "" {
			return fail("id", "Not an id from blocks.list.")
		}
	case in.IssueKey != "":
		if !jira.ValidIssueKey(in.IssueKey) {
			return fail("issueKey", "Not a request key.")
		}
		var rev issueRecord
		found, err := st.get(issueKey(in.IssueKey), &rev)
		if err != nil {
			return st, cfg, in, nil, err
		}
		if !found || rev.Project != in.ProjectKey {
			return fail("issueKey", "No chat of this project is mapped to this request.")
		}
		in.Channel, in.Chat = rev.Channel, rev.Chat
	default:
		if _, _, ok := b.endpoint(&cfg, in.Channel); !ok && b.kinds()[in.Channel].New == nil {
			return fail("channel", "Unknown channel; supported: "+strings.Join(b.kindNames(), ", ")+".")
		}
		if len(in.Chat) > 128 || strings.TrimSpace(in.Chat) != in.Chat || in.Chat == "" {
			return fail("chat", "Not a chat id.")
		}
	}
	return st, cfg, in, nil, nil
}

// exemptFromLimits are the messages neither the block list nor the flood
// limit stops: a customer's /forget.
func exemptFromLimits(ev *channel.Inbound) bool { return forgetCommand(ev) }

// pressesLimited: a website widget's button presses count against the
// session's flood limit as its messages do. Anyone on the web can open a
// session and press, and a refused press is answered in the page, from the
// installation's shared realtime rate; a messenger's presses come from its
// accounts, which the messenger limits, and Telegram's must be answered.
func pressesLimited(ch string) bool { return ch == web.Name }

// limited applies the block list and the flood limit to this event: true
// when it goes no further (a blocked chat's is dropped, a flooding chat's
// answered once a window with the flood notice).
func (w *inbound) limited() (bool, error) {
	if blocked, err := w.isBlocked(); err != nil || blocked {
		if blocked {
			w.log.Info("inbound: chat on the block list; dropped")
		}
		return true, err
	}
	if over, err := w.flooded(); err != nil || over {
		if err != nil {
			return true, err
		}
		return true, w.floodNotice()
	}
	return false, nil
}
