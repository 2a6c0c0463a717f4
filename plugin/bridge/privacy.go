package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// The admin's control over stored data: the mappings of a project, listed
// without chat ids and forgotten one chat at a time (by request key, or by
// the customer's /forget); the retention of resolved requests' mappings,
// swept daily; and the inventory of what is stored, from RecordKinds.

// RecordKind is one kind of record the bridge stores: the inventory counts
// them and the privacy tests accept no other.
type RecordKind struct {
	// Name is the key's first segment ("chat").
	Name string `json:"kind"`
	// Holds says what the record holds, and what it never does.
	Holds string `json:"holds"`
	// Lifetime says how long it lives.
	Lifetime string `json:"lifetime"`
	// Sealed: the host seals every record of app storage (SECURITY.md,
	// "Storage"): encrypted and authenticated under the installation's key.
	Sealed bool `json:"sealed"`
	// project names the project a record of this kind belongs to.
	project func(key string, value []byte) string
	// at is when the record was written or last active (Unix seconds), or 0
	// when it carries no time.
	at func(value []byte) int64
}

// RecordKinds lists every kind of record the bridge stores (store.go's key
// list), in key order.
var RecordKinds = []RecordKind{
	{Name: "block", Holds: "a chat on the project's block list: when it was blocked; keyed by an HMAC of the chat under the project's own key, no chat id",
		Lifetime: "until the admin unblocks the chat or the project's configuration is deleted (a customer's /forget leaves it)",
		Sealed:   true, project: segment(1), at: field("at")},
	{Name: "chat", Holds: "a chat's open requests (the current one's key and id, the others' keys), blocked flag and language; keyed by the chat id, no content",
		Lifetime: "until the chat is forgotten, its project deleted, or (with no open request) its last resolved request expires",
		Sealed:   true, project: segment(1), at: noTime},
	{Name: "closed", Holds: "that a chat was told the team is away, until when; keyed by a hash of the chat, no chat id, no content",
		Lifetime: "until the team's next opening (at most 30 days)", Sealed: true, project: segment(1), at: field("at")},
	{Name: "config", Holds: "a project's settings; secret names, never secrets",
		Lifetime: "until the project's configuration is deleted", Sealed: true, project: segment(1), at: noTime},
	{Name: "csat", Holds: "a rating waiting for its comment: the request key, the rating (1-5), when; keyed by the chat id, no text",
		Lifetime: "until the rating reaches Jira (the 10-minute comment window), at most 24 hours", Sealed: true, project: segment(1), at: field("at")},
	{Name: "dedupe", Holds: "the progress of one delivery: its owner, steps, request key (and, for a /link, the customer's account id); no content, no chat id, no email, no code",
		Lifetime: "48 hours", Sealed: true, project: segment(2), at: field("at")},
	{Name: "flood", Holds: "a chat's message count in the current flood window; keyed by a hash of the chat, no chat id, no content",
		Lifetime: "the project's flood window (default 60 seconds, at most an hour)", Sealed: true, project: segment(1), at: field("at")},
	{Name: "forgot", Holds: "when a chat was forgotten, so that its messages queued before are refused; keyed by a hash of the chat, no chat id",
		Lifetime: "8 days (the queue's dead-letter retention and a day)", Sealed: true, project: segment(1), at: field("at")},
	{Name: "held", Holds: "an agent's replies held outside the reply window until the customer answers a template: request keys and comment ids, when the template was sent; keyed by the chat id, no text",
		Lifetime: "until the customer answers (the replies are queued again), at most 7 days", Sealed: true, project: segment(1), at: field("at")},
	{Name: "issue", Holds: "a request's chat (project, channel, chat id), its topic's thread id in that chat (topics.go), resolved flag, last activity",
		Lifetime: "until the chat is forgotten or its project deleted; once resolved, the project's retention period (default 90 days) after its last activity",
		Sealed:   true, project: issueProject, at: field("at")},
	{Name: "link", Holds: "a chat's link to a JSM customer: the customer's account id and when the chat proved it controls the customer's email; keyed by an HMAC of the chat under the project's own key, no chat id, no email, no code",
		Lifetime: "until the customer's /unlink or /forget, JSM refusing the customer, or the project's configuration is deleted",
		Sealed:   true, project: segment(1), at: field("at")},
	{Name: "linkrate", Holds: "the addresses a chat asked /link codes for in the last hour: for each, an HMAC of the address, when, and a hash of the delivery; keyed by an HMAC of the chat under the project's own key, no chat id, no email, no code",
		Lifetime: "an hour after the chat's last /link with an address, or until the project's configuration is deleted; a customer's /forget leaves it, so that forgetting does not reset the limit",
		Sealed:   true, project: segment(1), at: field("at")},
	{Name: "linkaddr", Holds: "when a /link code last went to an address, from whichever chat, and a hash of the delivery that asked; keyed by an HMAC of the address under the project's own key, no address, no chat",
		Lifetime: "a quarter hour (one code per address per quarter hour), or until the project's configuration is deleted",
		Sealed:   true, project: segment(1), at: field("at")},
	{Name: "route", Holds: "a chat's first-message menu: when it was sent and the request type chosen; keyed by the chat id, no text (the message waits in the queue)",
		Lifetime: "until the request opens (the choice, or 5 minutes without one), at most 1 hour", Sealed: true, project: segment(1), at: field("at")},
	{Name: "seen", Holds: "when a customer last wrote, for a reply window; keyed by the chat id",
		Lifetime: "the reply window and 7 days", Sealed: true, project: segment(1), at: field("at")},
	{Name: "sent", Holds: "a sent reply's hashed message id, its request key, comment id and reply nonce; no content, no chat id",
		Lifetime: "7 days", Sealed: true, project: segment(1), at: field("at")},
	{Name: "sweep", Holds: "where the retention sweep resumes (a storage cursor: the last request key read, sealed by the host)",
		Lifetime: "7 days, or until the sweep reaches the end", Sealed: true, project: segment(1), at: field("at")},
}

// KindOf returns the kind of a stored key, or false for a key no kind names.
func KindOf(key string) (RecordKind, bool) {
	name := kind(key)
	for _, k := range RecordKinds {
		if k.Name == name && len(key) > len(name) {
			return k, true
		}
	}
	return RecordKind{}, false
}

func segment(n int) func(string, []byte) string {
	return func(key string, _ []byte) string {
		parts := strings.Split(key, ":")
		if n < len(parts) {
			return parts[n]
		}
		return ""
	}
}

func issueProject(key string, _ []byte) string {
	p, _, _ := strings.Cut(strings.TrimPrefix(key, "issue:"), "-")
	return p
}

func noTime([]byte) int64 { return 0 }

func field(name string) func([]byte) int64 {
	return func(v []byte) int64 {
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return 0
		}
		var at int64
		if json.Unmarshal(m[name], &at) != nil {
			return 0
		}
		return at
	}
}

// DefaultRetentionDays is how long the mapping of a resolved request is kept
// after its last activity unless the project sets retentionDays.
const DefaultRetentionDays = 90

// maxRetentionDays bounds a project's retention period (ten years).
const maxRetentionDays = 3650

func (c *Config) retentionDays() int {
	if c.RetentionDays > 0 {
		return c.RetentionDays
	}
	return DefaultRetentionDays
}

// touchEvery is how often a customer's messages move a request's last
// activity: at most one write an hour per request.
const touchEvery = time.Hour

// touch notes the request's last activity. A failure only makes the mapping
// expire earlier after its resolution, so it is logged.
func (w *inbound) touch(issue string) {
	var rev issueRecord
	found, err := w.st.get(issueKey(issue), &rev)
	now := w.b.now().Unix()
	if err == nil && found && now-rev.At >= int64(touchEvery/time.Second) {
		rev.At = now
		err = w.st.put(issueKey(issue), &rev, 0)
	}
	if err != nil {
		w.log.Warn("inbound: last activity not noted", "err", err)
	}
}

// forgetCommand recognises /forget: a channel's command, or the text itself
// on channels without bot commands.
func forgetCommand(ev *channel.Inbound) bool {
	if ev.Edited {
		return false
	}
	if ev.Command == channel.CommandForget {
		return true
	}
	return ev.Command == "" && len(ev.Attachments) == 0 && strings.EqualFold(strings.TrimSpace(ev.Plain), "/"+channel.CommandForget)
}

// forget is the customer's /forget: everything of the chat goes, then the
// customer is told so in the project's language. The chat's lane orders it
// after the chat's earlier messages; its next message opens a new request.
// In a group chat it forgets nothing and says why: the group's requests are
// all its members', and one member may not unlink them for the others
// (RATIONALE.md); the admin's mappings.forget can.
func (w *inbound) forget() error {
	if w.job.Event.Group {
		w.log.Info("inbound: /forget in a group chat refused")
		return w.replyStep("reply", w.texts().ForgetInGroup)
	}
	if err := w.step("forget", func() error {
		n, err := forgetChat(w.st, w.job.Project, w.job.Channel, w.job.Event.ChatID, w.b.kinds())
		if err != nil {
			return err
		}
		w.chat = chatRecord{}
		// What the chat queued before the /forget ran before it, in its
		// lane; a dead letter of it replayed later is refused.
		before := w.job.Queued
		if before == 0 {
			before = w.b.now().UnixMilli()
		}
		if err := markForgotten(w.st, w.job.Project, w.job.Channel, w.job.Event.ChatID, before); err != nil {
			return err
		}
		w.log.Info("inbound: customer asked to be forgotten; chat forgotten", "records", n)
		return nil
	}); err != nil {
		return err
	}
	return w.replyStep("reply", w.texts().Forgotten)
}

// forgotTTL is how long a forgotten chat's mark lives: as long as a message
// queued before the forget may still run (a dead letter is kept 7 days, and
// may be replayed until then), and a day.
const forgotTTL = 8 * 24 * time.Hour

// forgotRecord marks a forgotten chat.
type forgotRecord struct {
	// At is when (Unix seconds); Before is the queue time (Unix
	// milliseconds) before which the chat's messages are refused.
	At     int64 `json:"at"`
	Before int64 `json:"before"`
}

// forgotKey names a chat's mark by a hash, never by its id.
func forgotKey(project, ch, chatID string) string {
	sum := sha256.Sum256([]byte("chatbridge.forgot\x00" + project + "\x00" + ch + "\x00" + chatID))
	return "forgot:" + project + ":" + hex.EncodeToString(sum[:16])
}

func markForgotten(st store, project, ch, chatID string, before int64) error {
	return st.put(forgotKey(project, ch, chatID), forgotRecord{At: before / 1000, Before: before}, forgotTTL)
}

// queuedBeforeForget reports a job queued before its chat was forgotten (a
// job from before queue times were kept counts as before).
func queuedBeforeForget(st store, job *inboundJob) (bool, error) {
	var f forgotRecord
	found, err := st.get(forgotKey(job.Project, job.Channel, job.Event.ChatID), &f)
	if err != nil || !found {
		return false, err
	}
	return job.Queued < f.Before, nil
}

// chatIssues lists the request keys mapped to a chat.
func chatIssues(st store, project, ch, chatID string) ([]string, error) {
	var keys []string
	err := eachRecord(st, "issue:"+project+"-", func(key string, v []byte) (bool, error) {
		var rev issueRecord
		if json.Unmarshal(v, &rev) == nil && rev.Project == project && rev.Channel == ch && rev.Chat == chatID {
			keys = append(keys, strings.TrimPrefix(key, "issue:"))
		}
		return true, nil
	})
	return keys, err
}

// eachRecord calls fn for each record under prefix, page by page, until fn
// answers false.
func eachRecord(st store, prefix string, fn func(key string, value []byte) (bool, error)) error {
	cursor := ""
	for {
		page, err := st.s.Query(prefix, cursor, 100)
		if err != nil {
			return fmt.Errorf("bridge: list %s: %w", kind(prefix), err)
		}
		for _, e := range page.Entries {
			more, err := fn(e.Key, e.Value)
			if err != nil || !more {
				return err
			}
		}
		if page.NextCursor == "" || len(page.Entries) == 0 {
			return nil
		}
		cursor = page.NextCursor
	}
}

// forgetChat removes every record of one chat: the records derived from its
// requests (forgetIssues), its window record, its chat record, and last its
// requests' mappings, so that a forget cut short can be run again by any of
// their keys. It answers how many records went.
func forgetChat(st store, project, ch, chatID string, kinds map[string]Kind) (int, error) {
	issues, err := chatIssues(st, project, ch, chatID)
	if err != nil {
		return 0, err
	}
	var chat chatRecord
	if _, err := st.get(chatKey(project, ch, chatID), &chat); err != nil {
		return 0, err
	}
	if chat.Issue != "" && !containsKey(issues, chat.Issue) {
		issues = append(issues, chat.Issue)
	}
	n, err := forgetDerived(st, project, issues, kinds)
	if err != nil {
		return n, err
	}
	keys := []string{seenKey(project, ch, chatID), chatKey(project, ch, chatID), sweepKey(project),
		closedKey(project, ch, chatID), floodKey(project, ch, chatID), csatKey(project, ch, chatID),
		routeKey(project, ch, chatID), heldKey(project, ch, chatID)}
	var cfg Config
	if _, err := st.get(configKey(project), &cfg); err != nil {
		return n, err
	}
	if k := cfg.hashKey(); k != nil {
		keys = append(keys, linkKey(project, k, ch, chatID)) // identity.go
	}
	for _, issue := range issues {
		keys = append(keys, issueKey(issue))
	}
	for _, key := range keys {
		gone, err := st.delFound(key)
		if err != nil {
			return n, err
		}
		if gone {
			n++
		}
	}
	return n, nil
}

// delFound deletes key and reports whether there was a record.
func (st store) delFound(key string) (bool, error) {
	if _, err := st.s.Get(key); errors.Is(err, sdk.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("bridge: read %s: %w", kind(key), err)
	}
	return true, st.del(key)
}

func containsKey(list []string, key string) bool {
	for _, k := range list {
		if k == key {
			return true
		}
	}
	return false
}

// forgetDerived removes the project's delivery and receipt records that
// name one of issues: progress records (inbound and outbound, by their
// request key), resolution notices' claims (by key), sent messages' records
// and the note claims of their replies.
func forgetDerived(st store, project string, issues []string, kinds map[string]Kind) (int, error) {
	if len(issues) == 0 {
		return 0, nil
	}
	set := map[string]bool{}
	for _, k := range issues {
		set[k] = true
	}
	var doomed []string
	prefixes := []string{"dedupe:jira:" + project + ":"}
	for _, k := range kinds {
		prefixes = append(prefixes, "dedupe:"+k.Short+":"+project+":")
	}
	for _, prefix := range prefixes {
		if err := eachRecord(st, prefix, func(key string, v []byte) (bool, error) {
			var p progress
			_ = json.Unmarshal(v, &p)
			if set[p.Issue] || statusOf(key, project, set) {
				doomed = append(doomed, key)
			}
			return true, nil
		}); err != nil {
			return 0, err
		}
	}
	replies := map[string]bool{}
	if err := eachRecord(st, "sent:"+project+":", func(key string, v []byte) (bool, error) {
		var r sentRecord
		if json.Unmarshal(v, &r) == nil && set[r.Issue] {
			doomed = append(doomed, key)
			replies[r.Reply] = true
		}
		return true, nil
	}); err != nil {
		return 0, err
	}
	for _, k := range kinds {
		for reply := range replies {
			if reply != "" {
				doomed = append(doomed, sentNoteKey(project, k.Short, reply))
			}
		}
	}
	for i, key := range doomed {
		if err := st.del(key); err != nil {
			return i, err
		}
	}
	return len(doomed), nil
}

// statusOf reports whether key is a resolution notice's claim of one of set.
func statusOf(key, project string, set map[string]bool) bool {
	rest, ok := strings.CutPrefix(key, "dedupe:jira:"+project+":status:")
	if !ok {
		return false
	}
	issue, _, _ := strings.Cut(rest, ":")
	return set[issue]
}

// chatRef names a chat in the admin's lists without its id: the same chat
// always gets the same reference, which says nothing about the id.
func chatRef(project, ch, chatID string) string {
	sum := sha256.Sum256([]byte("chatbridge.chatref\x00" + project + "\x00" + ch + "\x00" + chatID))
	return hex.EncodeToString(sum[:6])
}

// mapping is one row of mappings.list.
type mapping struct {
	IssueKey string `json:"issueKey"`
	Channel  string `json:"channel"`
	// Chat tells the requests of one chat apart from another's (chatRef).
	Chat     string `json:"chat"`
	Open     bool   `json:"open"`
	Resolved bool   `json:"resolved"`
	// LastActivity is RFC 3339, or "" for a mapping from before it was kept.
	LastActivity string `json:"lastActivity"`
	// ExpiresAt is when retention removes a resolved request's mapping.
	ExpiresAt string `json:"expiresAt,omitempty"`
}

// maxListed bounds one page of mappings.list.
const maxListed = 200

type mappingsInput struct {
	ProjectKey string `json:"projectKey"`
	// Cursor is the previous page's "next": an opaque storage cursor, valid
	// for this project's list only.
	Cursor string `json:"cursor,omitempty"`
}

// mappingsList lists a project's mappings by request key, a page of at
// most maxListed at a time. Each storage page asks for no more than the
// rows still wanted, so a list page ends where a storage page ends and its
// "next" is that page's cursor (storage cursors are opaque: a key is none).
func (b *Bridge) mappingsList(env *sdk.Env, payload []byte) (answer, error) {
	var in mappingsInput
	if err := decodeStrict(payload, &in); err != nil {
		return nil, err
	}
	if !ValidProjectKey(in.ProjectKey) {
		return fieldErrors(map[string]string{"projectKey": "Not a Jira project key."}), nil
	}
	st := store{env.Storage}
	var cfg Config
	if _, err := st.get(configKey(in.ProjectKey), &cfg); err != nil {
		return nil, err
	}
	retention := time.Duration(cfg.retentionDays()) * 24 * time.Hour
	prefix := "issue:" + in.ProjectKey + "-"
	cursor := in.Cursor
	rows := []mapping{}
	next := ""
	openIssue := map[string]string{} // each chat's open request, read once
	for {
		page, err := st.s.Query(prefix, cursor, min(100, maxListed-len(rows)))
		if errors.Is(err, abi.InvalidArgument) && cursor == in.Cursor && cursor != "" {
			return fieldErrors(map[string]string{"cursor": "Not a cursor of this project's list: give the previous page's next."}), nil
		}
		if err != nil {
			return nil, fmt.Errorf("bridge: list mappings: %w", err)
		}
		for _, e := range page.Entries {
			var rev issueRecord
			if json.Unmarshal(e.Value, &rev) != nil || rev.Project != in.ProjectKey {
				continue
			}
			key := strings.TrimPrefix(e.Key, "issue:")
			ck := chatKey(rev.Project, rev.Channel, rev.Chat)
			if _, seen := openIssue[ck]; !seen {
				var chat chatRecord
				if _, err := st.get(ck, &chat); err != nil {
					return nil, err
				}
				openIssue[ck] = chat.Issue
			}
			m := mapping{IssueKey: key, Channel: rev.Channel, Chat: chatRef(rev.Project, rev.Channel, rev.Chat),
				Open: openIssue[ck] == key, Resolved: rev.Resolved}
			if rev.At > 0 {
				m.LastActivity = time.Unix(rev.At, 0).UTC().Format(time.RFC3339)
				if rev.Resolved {
					m.ExpiresAt = time.Unix(rev.At, 0).Add(retention).UTC().Format(time.RFC3339)
				}
			}
			rows = append(rows, m)
		}
		if page.NextCursor == "" || len(page.Entries) == 0 {
			break
		}
		if len(rows) == maxListed {
			next = page.NextCursor
			break
		}
		cursor = page.NextCursor
	}
	a := okAnswer("mappings", rows)
	if next != "" {
		a["next"] = next
	}
	return a, nil
}

type forgetInput struct {
	ProjectKey string `json:"projectKey"`
	IssueKey   string `json:"issueKey"`
}

// mappingsForget forgets the chat of one request: the chat's mapping, every
// request of the chat, and every record derived from them. The requests in
// Jira are not touched; the chat's next message opens a new request.
func (b *Bridge) mappingsForget(env *sdk.Env, payload []byte) (answer, error) {
	var in forgetInput
	if err := decodeStrict(payload, &in); err != nil {
		return nil, err
	}
	errs := map[string]string{}
	if !ValidProjectKey(in.ProjectKey) {
		errs["projectKey"] = "Not a Jira project key."
	}
	if !jira.ValidIssueKey(in.IssueKey) {
		errs["issueKey"] = "Not a request key."
	}
	if len(errs) > 0 {
		return fieldErrors(errs), nil
	}
	st := store{env.Storage}
	var rev issueRecord
	found, err := st.get(issueKey(in.IssueKey), &rev)
	if err != nil {
		return nil, err
	}
	if !found || rev.Project != in.ProjectKey {
		return fieldErrors(map[string]string{"issueKey": "No chat of this project is mapped to this request."}), nil
	}
	issues, err := chatIssues(st, rev.Project, rev.Channel, rev.Chat)
	if err != nil {
		return nil, err
	}
	n, err := forgetChat(st, rev.Project, rev.Channel, rev.Chat, b.kinds())
	if err == nil {
		// The admin's forget runs outside the chat's lane: the chat's
		// messages still queued, or dead letters replayed later, are refused.
		err = markForgotten(st, rev.Project, rev.Channel, rev.Chat, b.now().UnixMilli())
	}
	if err != nil {
		return nil, err
	}
	logger(env, "project", rev.Project, "channel", rev.Channel).Info("chat forgotten at the admin's request", "records", n)
	return okAnswer("forgotten", issues, "records", n), nil
}

// SweepBatch bounds the retention sweep per project and run: at most this
// many expired requests' mappings go, and at most ten times as many
// mappings are read. The rest wait for the next run, which resumes after
// the last request read (the sweep: record).
const SweepBatch = 100

// RetentionTrigger is the manifest's scheduled trigger of the sweep.
const RetentionTrigger = "retention"

func sweepKey(project string) string { return "sweep:" + project }

// sweepRecord is where a project's sweep resumes: at Cursor, a storage
// cursor (opaque; on the host the last key read, sealed), or from the start
// when there is no record or its cursor no longer opens.
type sweepRecord struct {
	Cursor string `json:"cursor"`
	At     int64  `json:"at"`
}

// sweepTTL is how long a sweep's resume point is kept: a daily sweep
// rewrites it long before.
const sweepTTL = 7 * 24 * time.Hour

// Scheduled runs the daily retention sweep over every project.
func (b *Bridge) Scheduled(env *sdk.Env, c *abi.ScheduledCall) error {
	if c.Trigger != RetentionTrigger {
		env.Log.Warn("scheduled: unknown trigger", "kind", c.Trigger)
		return nil
	}
	st := store{env.Storage}
	var projects []Config
	if err := eachRecord(st, "config:", func(_ string, v []byte) (bool, error) {
		var cfg Config
		if json.Unmarshal(v, &cfg) == nil && ValidProjectKey(cfg.ProjectKey) {
			projects = append(projects, cfg)
		}
		return true, nil
	}); err != nil {
		return err
	}
	for i := range projects {
		n, err := b.sweep(st, &projects[i], b.batch())
		log := logger(env, "project", projects[i].ProjectKey)
		if err != nil {
			log.Error("scheduled: retention sweep failed", "err", err)
			continue
		}
		if n > 0 {
			log.Info("scheduled: resolved requests' mappings expired", "records", n)
		}
	}
	return nil
}

func (b *Bridge) batch() int {
	if b.SweepBatch > 0 {
		return b.SweepBatch
	}
	return SweepBatch
}

// sweep expires, for one project, the mappings of requests resolved longer
// than the retention period ago, with the records derived from them, and
// the chat records left without a request. It is idempotent: a run cut
// short leaves the rest for the next, and a mapping once gone is not found
// again. A resolved mapping from before last activity was kept is dated
// now, so it expires one period later. It answers the records removed.
func (b *Bridge) sweep(st store, cfg *Config, batch int) (int, error) {
	p := cfg.ProjectKey
	now := b.now()
	cutoff := now.Add(-time.Duration(cfg.retentionDays()) * 24 * time.Hour).Unix()
	var at sweepRecord
	if _, err := st.get(sweepKey(p), &at); err != nil {
		return 0, err
	}
	var (
		expired []string
		chats   = map[string]bool{}
		read    int
		resume  string // the storage cursor after the last mapping read
	)
	cursor := at.Cursor
	for {
		// Each page asks for no more than the run may still read or expire,
		// so the run stops where a page ends and resumes at its cursor.
		page, err := st.s.Query("issue:"+p+"-", cursor, min(100, 10*batch-read, batch-len(expired)))
		if errors.Is(err, abi.InvalidArgument) && cursor != "" && cursor == at.Cursor {
			cursor = "" // a resume point of an older version (a key): start over
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("bridge: list mappings: %w", err)
		}
		for _, e := range page.Entries {
			read++
			var rev issueRecord
			if json.Unmarshal(e.Value, &rev) != nil || rev.Project != p {
				continue
			}
			switch {
			case rev.Resolved && rev.At == 0:
				rev.At = now.Unix()
				if err := st.put(e.Key, &rev, 0); err != nil {
					return 0, err
				}
			case rev.Resolved && rev.At <= cutoff:
				expired = append(expired, strings.TrimPrefix(e.Key, "issue:"))
				chats[chatKey(rev.Project, rev.Channel, rev.Chat)] = true
			}
		}
		if page.NextCursor == "" || len(page.Entries) == 0 {
			break // the end: the next run starts over
		}
		if read == 10*batch || len(expired) == batch {
			resume = page.NextCursor
			break
		}
		cursor = page.NextCursor
	}
	n, err := forgetDerived(st, p, expired, b.kinds())
	if err != nil {
		return n, err
	}
	for _, issue := range expired {
		if err := st.del(issueKey(issue)); err != nil {
			return n, err
		}
		n++
	}
	for key := range chats {
		var chat chatRecord
		found, err := st.get(key, &chat)
		if err != nil {
			return n, err
		}
		if found && chat.Issue == "" && chat.Opening == "" {
			if err := st.del(key); err != nil {
				return n, err
			}
			n++
		}
	}
	if resume == "" {
		return n, st.del(sweepKey(p))
	}
	return n, st.put(sweepKey(p), sweepRecord{Cursor: resume, At: now.Unix()}, sweepTTL)
}

// inventoryRow is one kind's count and age, for one project or all.
type inventoryRow struct {
	RecordKind
	Count int `json:"count"`
	// OldestAgeSeconds is the age of the oldest record that carries a time;
	// Undated counts those that do not (config and chat records carry none).
	OldestAgeSeconds int64 `json:"oldestAgeSeconds"`
	Undated          int   `json:"undated"`
}

type inventoryInput struct {
	ProjectKey string `json:"projectKey,omitempty"`
}

// inventory counts every stored record by kind, for the installation and
// per project (or for one project), with the oldest age of each: the same
// RecordKinds the privacy tests hold the store to. A record no kind names
// is counted under "unknown", which the privacy tests forbid.
func (b *Bridge) inventory(env *sdk.Env, payload []byte) (answer, error) {
	var in inventoryInput
	if len(payload) > 0 {
		if err := decodeStrict(payload, &in); err != nil {
			return nil, err
		}
	}
	if in.ProjectKey != "" && !ValidProjectKey(in.ProjectKey) {
		return fieldErrors(map[string]string{"projectKey": "Not a Jira project key."}), nil
	}
	now := b.now().Unix()
	total := newRows()
	projects := map[string]map[string]*inventoryRow{}
	unknown := 0
	if err := eachRecord(store{env.Storage}, "", func(key string, v []byte) (bool, error) {
		k, ok := KindOf(key)
		if !ok {
			unknown++
			return true, nil
		}
		p := k.project(key, v)
		if in.ProjectKey != "" && p != in.ProjectKey {
			return true, nil
		}
		if projects[p] == nil {
			projects[p] = newRows()
		}
		for _, rows := range []map[string]*inventoryRow{total, projects[p]} {
			r := rows[k.Name]
			r.Count++
			if at := k.at(v); at > 0 {
				r.OldestAgeSeconds = max(r.OldestAgeSeconds, now-at)
			} else {
				r.Undated++
			}
		}
		return true, nil
	}); err != nil {
		return nil, err
	}
	per := map[string][]inventoryRow{}
	for p, rows := range projects {
		per[p] = listRows(rows)
	}
	a := okAnswer("kinds", listRows(total), "projects", per)
	if in.ProjectKey == "" {
		a["unknown"] = unknown
	}
	return a, nil
}

func newRows() map[string]*inventoryRow {
	rows := map[string]*inventoryRow{}
	for _, k := range RecordKinds {
		rows[k.Name] = &inventoryRow{RecordKind: k}
	}
	return rows
}

func listRows(rows map[string]*inventoryRow) []inventoryRow {
	out := make([]inventoryRow, 0, len(RecordKinds))
	for _, k := range RecordKinds {
		out = append(out, *rows[k.Name])
	}
	return out
}
