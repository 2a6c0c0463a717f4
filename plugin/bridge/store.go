package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// DedupeTTL is how long delivery records live: Telegram keeps undelivered
// updates for 24 hours and Jira retries for about 30 minutes, so 48 hours
// covers every duplicate either can send.
const DedupeTTL = 48 * time.Hour

// Storage keys. Every key is [A-Za-z0-9:._-]: project keys are upper-case
// letters, digits and '_', issue keys add '-', chat and update ids are
// decimal integers (chat ids may be negative), comment ids are decimal.
//
//	config:<PROJECT>                            Config (no secrets, only their names)
//	chat:<PROJECT>:<channel>:<chatId>           chatRecord: the chat's open request, blocked flag
//	issue:<ISSUEKEY>                            issueRecord: the chat a request belongs to
//	csat:<PROJECT>:<channel>:<chatId>           csatRecord: a rating awaiting its comment (TTL 24 h; satisfaction.go)
//	dedupe:<short>:<PROJECT>:<eventId>          progress of one inbound event (TTL 48 h)
//	dedupe:jira:<PROJECT>:comment:<commentId>   progress of one agent comment (TTL 48 h)
//	dedupe:jira:<PROJECT>:edit:<commentId>:<ms> progress of one edit of it, by its updated time (TTL 48 h)
//	dedupe:jira:<PROJECT>:status:<KEY>:<marker> one resolution notice (TTL 48 h)
//	block:<PROJECT>:<HMAC>                      a blocked chat, by an HMAC under the project's key (abuse.go)
//	closed:<PROJECT>:<HASH>                     a chat told the team is away, until it opens (hours.go)
//	flood:<PROJECT>:<HASH>                      a chat's count in its flood window (abuse.go)
//	link:<PROJECT>:<HMAC>                       a chat's link to a JSM customer, by an HMAC under the project's key (identity.go)
//	linkrate:<PROJECT>:<HMAC>                   the addresses a chat asked /link codes for, as HMACs (TTL 1 h; linklimit.go)
//	seen:<PROJECT>:<channel>:<chatId>           when the customer last wrote (window.go)
//	route:<PROJECT>:<channel>:<chatId>          routeRecord: a first-message menu and its choice (TTL 1 h; routing.go)
//	held:<PROJECT>:<channel>:<chatId>           heldRecord: replies held outside the reply window (TTL 7 d; template.go)
//	sent:<PROJECT>:<short>:<hash>               sentRecord: a reply's message id, hashed (TTL 7 d)
//	sent:<PROJECT>:<short>:note:<nonce>         the one "not delivered" note of a reply (TTL 7 d)
//	forgot:<PROJECT>:<HASH>                     a forgotten chat's forget time, refusing what was queued before (TTL 8 d; privacy.go)
//	sweep:<PROJECT>                             where the retention sweep resumes (TTL 7 d; privacy.go)
//
// RecordKinds (privacy.go) lists these kinds for the inventory and the
// privacy tests: a new kind goes there too.
func configKey(project string) string { return "config:" + project }

func chatKey(project, ch, chatID string) string { return "chat:" + project + ":" + ch + ":" + chatID }

func issueKey(key string) string { return "issue:" + key }

func inboundDedupeKey(short, project, id string) string {
	return "dedupe:" + short + ":" + project + ":" + id
}

func commentDedupeKey(project, commentID string) string {
	return "dedupe:jira:" + project + ":comment:" + commentID
}

func commentEditDedupeKey(project, commentID string, updatedMs int64) string {
	return "dedupe:jira:" + project + ":edit:" + commentID + ":" + strconv.FormatInt(updatedMs, 10)
}

func statusDedupeKey(project, key, marker string) string {
	return "dedupe:jira:" + project + ":status:" + key + ":" + marker
}

// chatRecord maps a chat to its open request. It holds no message content.
type chatRecord struct {
	Issue   string `json:"issue,omitempty"`   // key of the open request; "" when none
	IssueID string `json:"issueId,omitempty"` // its numeric id
	Blocked bool   `json:"blocked,omitempty"` // the customer blocked the bot
	// Others are the keys of the chat's other open requests, oldest first
	// (requests.go): /new leaves the current one open among them.
	Others []string `json:"others,omitempty"`
	// Lang is the customer's language as their last message told it (a
	// language the bot speaks, texts.go), for the texts sent with agents'
	// replies; "" for the project's.
	Lang string `json:"lang,omitempty"`
	// Opening is the nonce of the delivery creating a request for this chat
	// and OpeningAt when it started (Unix seconds): others wait for it.
	Opening   string `json:"opening,omitempty"`
	OpeningAt int64  `json:"openingAt,omitempty"`
}

// issueRecord maps a request back to its chat.
type issueRecord struct {
	Project  string `json:"project"`
	Channel  string `json:"channel"`
	Chat     string `json:"chat"`
	IssueID  string `json:"issueId,omitempty"`
	Resolved bool   `json:"resolved,omitempty"`
	// Thread is the request's topic in its private chat (topics.go), ""
	// where it has none.
	Thread string `json:"thread,omitempty"`
	// At is the request's last activity (Unix seconds): its opening, a
	// customer's message (noted at most hourly, touchEvery), its resolution
	// or reopening. Retention counts from it (privacy.go).
	At int64 `json:"at,omitempty"`
}

// progress records how far the work of one delivery got, so that a retried
// delivery repeats no step. It names steps and issue keys, never content.
type progress struct {
	// Owner is the nonce of the delivery that owns the work; a duplicate
	// delivery with another nonce does nothing.
	Owner string `json:"o"`
	Done  bool   `json:"done,omitempty"`
	// Issue is the request the event went to; Created is set when this
	// event created it (its text is then in the description).
	Issue   string `json:"issue,omitempty"`
	IssueID string `json:"issueId,omitempty"`
	Created bool   `json:"created,omitempty"`
	// Account is the customer a /link found or created (identity.go),
	// kept so that a retry does not look for it again.
	Account string `json:"account,omitempty"`
	// Steps lists the completed steps.
	Steps []string `json:"steps,omitempty"`
	// Parts counts message parts already sent.
	Parts int `json:"parts,omitempty"`
	// At is when the record was last saved (Unix seconds): a Jira call
	// whose step is not recorded was made after it.
	At int64 `json:"at,omitempty"`
	// OpenAt is when this delivery was about to create the request (Unix
	// seconds), saved before the call; 0 when no creation is in doubt.
	OpenAt int64 `json:"openAt,omitempty"`
}

func (p *progress) has(step string) bool { return slices.Contains(p.Steps, step) }

// store wraps sdk.Storage with the bridge's records.
type store struct{ s sdk.Storage }

// get decodes the record under key into v, a pointer to a struct, which it
// zeroes first (fields left out with omitempty must not keep old values);
// found is false when there is none.
func (st store) get(key string, v any) (found bool, err error) {
	reflect.ValueOf(v).Elem().SetZero()
	b, err := st.s.Get(key)
	if errors.Is(err, sdk.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bridge: read %s: %w", kind(key), err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("bridge: decode %s: %w", kind(key), err)
	}
	return true, nil
}

func (st store) put(key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bridge: encode %s: %w", kind(key), err)
	}
	if err := st.s.Set(key, b, ttl); err != nil {
		return fmt.Errorf("bridge: write %s: %w", kind(key), err)
	}
	return nil
}

func (st store) del(key string) error {
	if err := st.s.Delete(key); err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("bridge: delete %s: %w", kind(key), err)
	}
	return nil
}

// kind names a key's record type for errors, leaving out the ids (a chat id
// must not reach a log).
func kind(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == ':' {
			return key[:i]
		}
	}
	return key
}

// claim takes ownership of the work under key for nonce: it fails when a
// record exists, else writes one.
func (st store) claim(key, nonce string) (bool, error) {
	won, _, err := st.claimOrPeek(key, nonce)
	return won, err
}

// claimOrPeek is claim that also returns the record found when the claim
// is lost.
func (st store) claimOrPeek(key, nonce string) (bool, progress, error) {
	return st.claimFor(key, nonce, DedupeTTL)
}

// claimFor is claimOrPeek with a record that lives for ttl. On a host with
// transactions (sdk.Transactor) the claim is one conditional write, which
// exactly one of two concurrent deliveries wins, and a lost claim costs one
// read more to peek; on one without, it is a read, a write and a read back,
// which leaves two concurrent deliveries a window of one read-to-write gap
// in which both could win (the consumers' owner check catches most of
// those).
func (st store) claimFor(key, nonce string, ttl time.Duration) (bool, progress, error) {
	var p progress
	if tx, ok := st.s.(sdk.Transactor); ok {
		b, err := json.Marshal(progress{Owner: nonce})
		if err != nil {
			return false, p, err
		}
		won, err := tx.Transact([]abi.TxnOp{{Kind: abi.TxnSet, Key: key, Value: b, TTLSeconds: uint32(ttl / time.Second), Condition: abi.IfAbsent}})
		if err != nil {
			return false, p, fmt.Errorf("bridge: claim %s: %w", kind(key), err)
		}
		if won {
			return true, progress{Owner: nonce}, nil
		}
		_, err = st.get(key, &p)
		return false, p, err
	}
	found, err := st.get(key, &p)
	if err != nil || found {
		return false, p, err
	}
	if err := st.put(key, progress{Owner: nonce}, ttl); err != nil {
		return false, p, err
	}
	found, err = st.get(key, &p)
	if err != nil {
		return false, p, err
	}
	return found && p.Owner == nonce, p, nil
}

// claimed decides what a delivery does with an event: queue it under the
// returned nonce, or nothing (queue false) when another delivery has it in
// hand. A claim no consumer has touched yet may belong to a delivery that
// died between the claim and its push (the messenger or Jira then retries):
// the event is queued again under the claim's own nonce. If the first push
// did happen, both jobs share the chat's lane and the later one finds the
// work done, so a duplicate costs a queued no-op, never a second effect.
func (st store) claimed(key string) (nonce string, queue, won bool, err error) {
	nonce = newNonce()
	won, held, err := st.claimOrPeek(key, nonce)
	switch {
	case err != nil:
		return "", false, false, err
	case won:
		return nonce, true, true, nil
	case held.Owner != "" && !held.Done && held.At == 0:
		return held.Owner, true, false, nil
	}
	return "", false, false, nil
}

// deleteAll removes every key with prefix, page by page.
func (st store) deleteAll(prefix string) (int, error) {
	n := 0
	for {
		page, err := st.s.Query(prefix, "", 100)
		if err != nil {
			return n, fmt.Errorf("bridge: list %s: %w", kind(prefix), err)
		}
		if len(page.Entries) == 0 {
			return n, nil
		}
		for _, e := range page.Entries {
			if err := st.del(e.Key); err != nil {
				return n, err
			}
			n++
		}
	}
}

// # Marks in Jira
//
// A step records its completion after its call, so a crash between the two
// leaves a call that went through unrecorded. Every comment, attachment and
// request the consumers create is therefore marked in Jira with the entity
// property chatbridge.op = {"id": op}, op being the delivery's nonce and the
// step's name; a redelivery looks for the mark before redoing an unrecorded
// step. A redelivery is attempt > 1, or a message whose progress record was
// saved by an earlier run (a dead letter replayed starts at attempt 1
// again); a first delivery reads nothing: nothing was done before it.

// clockSkew widens the time bounds of fallback matching, which compare the
// host's clock with the times Jira records.
const clockSkew = 2 * time.Minute

// opID names the Jira effect of one step of one delivery: short, without
// content or chat ids.
func opID(nonce, step string) string { return nonce + "." + step }

// ledger answers, on a redelivery, whether an earlier attempt's comment
// call for a step already took effect. It lists an issue's comments once per
// call (newer ones are this call's own, recorded as steps).
type ledger struct {
	jc jira.Client
	// redelivery: attempt > 1, or an earlier run saved progress. Otherwise
	// done answers false without a call.
	redelivery bool
	// app is the app's account id; since bounds when an unrecorded call
	// was made (the progress record's last save, less clockSkew). Fallback
	// matching of unmarked comments needs both.
	app   string
	since time.Time
	// listed caches each issue's comments.
	listed map[string][]jira.MarkedComment
}

func newLedger(jc jira.Client, attempt uint32, app string, savedAt int64) ledger {
	l := ledger{jc: jc, redelivery: attempt > 1 || savedAt > 0, app: app}
	if savedAt > 0 {
		l.since = time.Unix(savedAt, 0).Add(-clockSkew)
	}
	return l
}

// done reports whether issue has the effect of op: a comment marked with
// op, or, when match is set, an unmarked comment of the app's made since
// the bound that match accepts (a call that went through whose mark,
// set in a second call, did not). An adopted comment is marked first.
func (l *ledger) done(issue, op string, match func(jira.MarkedComment) bool) (bool, error) {
	if !l.redelivery {
		return false, nil
	}
	list, ok := l.listed[issue]
	if !ok {
		var err error
		if list, err = l.jc.Comments(issue, l.app); err != nil {
			return false, err
		}
		if l.listed == nil {
			l.listed = map[string][]jira.MarkedComment{}
		}
		l.listed[issue] = list
	}
	for _, c := range list {
		if c.Op == op {
			return true, nil
		}
	}
	if match == nil || l.app == "" || l.since.IsZero() {
		return false, nil
	}
	for i, c := range list {
		if c.Op == "" && c.AuthorID == l.app && !c.Created.Before(l.since) && match(c) {
			if err := l.jc.MarkComment(issue, c.ID, op); err != nil {
				return false, err
			}
			list[i].Op = op
			return true, nil
		}
	}
	return false, nil
}
