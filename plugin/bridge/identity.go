package bridge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/plugin/jira"
)

// Customer identity: a chat linked to a JSM customer raises its requests on
// the customer's behalf (raiseOnBehalfOf), so that they appear under the
// customer's name, organisation and SLA.
//
// A chat links only by proving it controls the customer's email, through a
// channel JSM itself controls, and the bridge stores nothing but the link:
//
//  1. The customer sends "/link anna@example.com". The bridge finds the
//     service desk's customer with that email, or creates one (a
//     portal-only account) and adds it to the desk; an email that belongs to
//     an account that is not the desk's customer gets no further.
//  2. It raises a request on that customer's behalf (labelled
//     chatbridge-link) and comments on it publicly with a one-time code:
//     JSM emails the comment to the customer ("Public comment added").
//  3. The code is derived, never stored: an HMAC under the project's key of
//     the chat, the account and the quarter hour (linkCode). The customer
//     sends "/link anna@example.com CODE" from the same chat within 15 to
//     30 minutes; the bridge finds the account again, derives the codes of
//     this quarter hour and the last, and compares.
//  4. On a match it stores the link (linkRecord, keyed by an HMAC of the
//     chat under the project's key). "/unlink" and "/forget" remove it.
//
// The chat's answer to step 1 is the same whether or not the email has an
// account, so the bot tells nobody which addresses are customers
// (SECURITY.md, "Customer identity").

// Identity modes (Config.Identity).
const (
	IdentityOff      = ""         // chats are not linked; requests are the app's
	IdentityOptional = "optional" // a chat may link
	IdentityRequired = "required" // a chat must link before its first request
)

// LinkLabel marks the requests that carry link codes, for queues and
// automation to leave out or close.
const LinkLabel = "chatbridge-link"

// linkSlot is how long a code's time window is; a code is accepted in its
// window and the next one.
const linkSlot = 15 * time.Minute

// identity is the project's mode, "off" for none.
func (c *Config) identity() string {
	if c.Identity == IdentityOff {
		return "off"
	}
	return c.Identity
}

func identityProblems(c *Config, errs map[string]string) {
	switch c.Identity {
	case "off":
		c.Identity = IdentityOff
	case IdentityOff, IdentityOptional, IdentityRequired:
	default:
		errs["identity"] = `Choose "off", "optional" or "required".`
	}
}

// ensureHashKey makes the project's hash key when it links chats and has
// none: 32 random bytes, never shown.
func (c *Config) ensureHashKey() {
	if c.Identity == IdentityOff || c.hashKey() != nil {
		return
	}
	var k [32]byte
	_, _ = rand.Read(k[:])
	c.HashKey = base64.RawStdEncoding.EncodeToString(k[:])
}

// subKey derives the key of one purpose from the project's hash key, so that
// a link record's name and a code are never the same HMAC.
func subKey(hashKey []byte, purpose string) []byte {
	m := hmac.New(sha256.New, hashKey)
	m.Write([]byte("chatbridge." + purpose))
	return m.Sum(nil)
}

// linkKey names a chat's link by an HMAC of the chat under the project's
// key: no chat id in the key.
func linkKey(project string, hashKey []byte, ch, chatID string) string {
	m := hmac.New(sha256.New, subKey(hashKey, "link.record"))
	m.Write([]byte(project + "\x00" + ch + "\x00" + chatID))
	return "link:" + project + ":" + hex.EncodeToString(m.Sum(nil)[:16])
}

// linkRecord is a chat's link to a JSM customer.
type linkRecord struct {
	Account string `json:"account"` // the customer's account id
	At      int64  `json:"at"`      // when the chat proved it (Unix seconds)
}

// codeAlphabet is Crockford's base 32: no I, L, O or U to misread.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// linkCode is the code that links chat to account in the window of slot:
// the first 40 bits of an HMAC under the project's key, as eight
// characters of codeAlphabet in two groups ("7K2Q-9XMD").
func linkCode(hashKey []byte, project, ch, chatID, account string, slot int64) string {
	m := hmac.New(sha256.New, subKey(hashKey, "link.code"))
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], uint64(slot))
	m.Write([]byte(project + "\x00" + ch + "\x00" + chatID + "\x00" + account + "\x00"))
	m.Write(s[:])
	sum := m.Sum(nil)
	v := uint64(sum[0])<<32 | uint64(sum[1])<<24 | uint64(sum[2])<<16 | uint64(sum[3])<<8 | uint64(sum[4])
	out := make([]byte, 0, 9)
	for i := 7; i >= 0; i-- {
		out = append(out, codeAlphabet[(v>>(5*uint(i)))&31])
		if i == 4 {
			out = append(out, '-')
		}
	}
	return string(out)
}

// normalCode reads a typed code as linkCode writes it: upper case, the
// letters people confuse with digits read as those digits, separators
// dropped; "" when it cannot be a code.
func normalCode(s string) string {
	var b []byte
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(codeAlphabet, r) {
			return ""
		}
		b = append(b, byte(r))
	}
	if len(b) != 8 {
		return ""
	}
	return string(b[:4]) + "-" + string(b[4:])
}

// codeValid reports whether code links chat to account at now: the code of
// this window or the last one, compared in constant time.
func codeValid(hashKey []byte, project, ch, chatID, account, code string, now time.Time) bool {
	code = normalCode(code)
	if code == "" {
		return false
	}
	slot := now.Unix() / int64(linkSlot/time.Second)
	ok := false
	for _, s := range []int64{slot, slot - 1} {
		if hmac.Equal([]byte(code), []byte(linkCode(hashKey, project, ch, chatID, account, s))) {
			ok = true
		}
	}
	return ok
}

// linkCmd is a customer's /link or /unlink.
type linkCmd struct {
	unlink bool
	email  string
	code   string
	// usage: /link without an email, or with words that are not one.
	usage bool
}

// parseLink recognises /link and /unlink as the text itself, on every
// channel (Telegram names no such command, so it arrives as text).
func parseLink(text string) (linkCmd, bool) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return linkCmd{}, false
	}
	name, _, _ := strings.Cut(strings.ToLower(fields[0]), "@") // "/link@SomeBot"
	switch name {
	case "/unlink":
		return linkCmd{unlink: true}, true
	case "/link":
	default:
		return linkCmd{}, false
	}
	var cmd linkCmd
	switch len(fields) {
	case 2:
		cmd.email = fields[1]
	case 3:
		cmd.email, cmd.code = fields[1], fields[2]
	case 4: // the code's two groups apart
		cmd.email, cmd.code = fields[1], fields[2]+fields[3]
	}
	if !validEmail(cmd.email) || cmd.code != "" && normalCode(cmd.code) == "" {
		return linkCmd{usage: true}, true
	}
	return cmd, true
}

// validEmail is a plain check of an address's shape; JSM has the last word.
func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && len(s) <= 254 && local != "" && len(local) <= 64 && strings.Contains(domain, ".") &&
		!strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") &&
		!strings.ContainsAny(s, " \t\r\n<>()[],;:\"\\") && !strings.Contains(domain, "@")
}

// identity handles /link and /unlink in a project that links chats;
// taken is false for any other message, which goes on as before.
func (w *inbound) identity() (taken bool, err error) {
	ev := &w.job.Event
	if w.cfg.Identity == IdentityOff || ev.Edited || ev.Command != "" || len(ev.Attachments) > 0 {
		return false, nil
	}
	cmd, ok := parseLink(ev.Plain)
	if !ok {
		return false, nil
	}
	lt := w.cfg.linkTextsIn(w.lang())
	key := w.cfg.hashKey()
	switch {
	case key == nil:
		return true, errors.New("bridge: the project links chats but has no hash key")
	case ev.Group:
		w.log.Info("inbound: /link in a group chat refused")
		return true, w.replyStep("reply", lt.InGroup)
	case cmd.unlink:
		return true, w.step("reply", func() error {
			gone, err := w.st.delFound(linkKey(w.job.Project, key, w.job.Channel, ev.ChatID))
			if err != nil {
				return err
			}
			if !gone {
				return w.reply(lt.NotLinked)
			}
			w.log.Info("inbound: chat unlinked from its customer")
			return w.reply(lt.Unlinked)
		})
	case cmd.usage:
		return true, w.replyStep("reply", lt.Usage)
	case cmd.code == "":
		return true, w.sendCode(key, cmd.email, lt)
	}
	return true, w.checkCode(key, cmd.email, cmd.code, lt)
}

// sendCode is step 1 and 2 of a link: within the chat's limit
// (linklimit.go), find or create the customer, raise the request that
// carries the code on their behalf, comment the code on it, and tell the
// chat, in words that say nothing of whether the email has an account.
func (w *inbound) sendCode(key []byte, email string, lt *linkTexts) error {
	if limited, err := w.linkLimited(key, email, lt); limited || err != nil {
		return err
	}
	sent := fill(lt.Sent, "{email}", email)
	if w.prog.Account == "" && !w.prog.has("reply") {
		c, found, err := w.jc.FindCustomer(w.cfg.ServiceDeskID, email)
		if err != nil {
			return err
		}
		if !found {
			name := strings.TrimSpace(w.job.Event.Sender)
			if name == "" {
				name = email
			}
			c, err = w.jc.CreateCustomer(email, name)
			if errors.Is(err, jira.ErrExists) {
				// An account that is not the desk's customer (an agent's,
				// another site's): not linked from a chat.
				w.log.Info("inbound: /link for an account that is not the desk's customer; no code sent")
				return w.replyStep("reply", sent)
			}
			var se *jira.StatusError
			if errors.As(err, &se) && se.Status == 400 {
				w.log.Info("inbound: /link for an address JSM refused; no code sent")
				return w.replyStep("reply", sent)
			}
			if err != nil {
				return err
			}
			w.prog.Steps = append(w.prog.Steps, "created")
		}
		w.prog.Account = c.AccountID
		if err := w.saveProgress(); err != nil {
			return err
		}
	}
	if w.prog.has("reply") {
		return nil
	}
	acct := w.prog.Account
	if w.prog.has("created") {
		if err := w.step("desk", func() error { return w.jc.AddCustomer(w.cfg.ServiceDeskID, acct) }); err != nil {
			return err
		}
	}
	if err := w.openLinkRequest(acct, lt); err != nil {
		return err
	}
	issue := w.prog.Issue
	if err := w.jiraStep("code", issue, nil, func(op string) error {
		code := linkCode(key, w.job.Project, w.job.Channel, w.job.Event.ChatID, acct, w.b.now().Unix()/int64(linkSlot/time.Second))
		_, err := w.jc.AddMarkedComment(issue, fill(lt.Code, "{command}", "/link "+email+" "+code), true, op)
		return err
	}); err != nil {
		return err
	}
	w.log.Info("inbound: link code sent through the service desk")
	return w.replyStep("reply", sent)
}

// openLinkRequest raises the request a link code is commented on, on the
// customer's behalf, once: it is marked with the step's op, which a
// redelivery looks for before raising another.
func (w *inbound) openLinkRequest(acct string, lt *linkTexts) error {
	if w.prog.Issue != "" {
		return nil
	}
	op := opID(w.job.Nonce, "linkreq")
	if w.prog.OpenAt != 0 {
		since := time.Unix(w.prog.OpenAt, 0).Add(-clockSkew)
		list, err := w.jc.RecentIssues(w.job.Project, w.b.now().Sub(since))
		if err != nil {
			return err
		}
		for _, f := range list {
			if f.Op == op {
				w.prog.Issue, w.prog.IssueID, w.prog.OpenAt = f.Key, f.ID, 0
				return w.saveProgress()
			}
		}
		if age := w.b.now().Sub(time.Unix(w.prog.OpenAt, 0)); age < indexLag && !w.last {
			return errSettle{indexLag - age}
		}
	}
	w.prog.OpenAt = w.b.now().Unix()
	if err := w.saveProgress(); err != nil {
		return err
	}
	created, err := w.jc.CreateRequest(jira.NewRequest{
		ServiceDeskID: w.cfg.ServiceDeskID, RequestTypeID: w.cfg.RequestTypeID,
		Summary: lt.Summary, Description: lt.Description, Labels: []string{LinkLabel}, RaiseOnBehalfOf: acct,
	})
	if err != nil {
		var se *jira.StatusError
		if errors.As(err, &se) && (se.Status < 500 || se.Status == 503) {
			w.prog.OpenAt = 0
			_ = w.saveProgress()
		}
		return err
	}
	if err := w.jc.MarkIssue(created.IssueKey, op); err != nil {
		w.log.Warn("inbound: link request not marked", "err", err)
	}
	w.prog.Issue, w.prog.IssueID, w.prog.OpenAt = created.IssueKey, created.IssueID, 0
	return w.saveProgress()
}

// checkCode is step 3 and 4: the code the customer typed against the ones
// this chat, this email's account and the time give; the link is stored on
// a match.
func (w *inbound) checkCode(key []byte, email, code string, lt *linkTexts) error {
	return w.step("reply", func() error {
		c, found, err := w.jc.FindCustomer(w.cfg.ServiceDeskID, email)
		if err != nil {
			return err
		}
		ev := &w.job.Event
		if !found || !codeValid(key, w.job.Project, w.job.Channel, ev.ChatID, c.AccountID, code, w.b.now()) {
			w.log.Info("inbound: link code not valid")
			return w.reply(lt.Wrong)
		}
		rec := linkRecord{Account: c.AccountID, At: w.b.now().Unix()}
		if err := w.st.put(linkKey(w.job.Project, key, w.job.Channel, ev.ChatID), &rec, 0); err != nil {
			return err
		}
		w.log.Info("inbound: chat linked to a customer")
		return w.reply(fill(lt.Linked, "{email}", email))
	})
}

// linkedAccount is the account id of the customer the chat is linked to,
// or "" for none (or a project that does not link chats).
func (w *inbound) linkedAccount() (string, error) {
	key := w.cfg.hashKey()
	if w.cfg.Identity == IdentityOff || key == nil || w.job.Event.Group {
		return "", nil
	}
	var rec linkRecord
	if _, err := w.st.get(linkKey(w.job.Project, key, w.job.Channel, w.job.Event.ChatID), &rec); err != nil {
		return "", err
	}
	return rec.Account, nil
}

// linkFirst, in a project that requires linking, answers the message of an
// unlinked chat that would open a request with how to link, and passes it
// on nowhere (SECURITY.md, "Customer identity"): refused is true then.
func (w *inbound) linkFirst() (refused bool, err error) {
	if w.cfg.Identity != IdentityRequired || w.chat.Issue != "" || w.prog.Issue != "" {
		return false, nil
	}
	acct, err := w.linkedAccount()
	if err != nil || acct != "" {
		return false, err
	}
	w.log.Info("inbound: chat not linked to a customer; message not passed on")
	lt := w.cfg.linkTextsIn(w.lang())
	if w.job.Event.Group {
		return true, w.replyStep("linkFirst", lt.InGroup)
	}
	return true, w.replyStep("linkFirst", lt.First)
}

// onBehalf raises a linked chat's new request on its customer's behalf.
func (w *inbound) onBehalf(req *jira.NewRequest) error {
	acct, err := w.linkedAccount()
	req.RaiseOnBehalfOf = acct
	return err
}

// createRequest is CreateRequest that, when JSM refuses to raise the
// request on the linked customer's behalf (the account was deleted or
// removed from the desk), drops the link, raises it as the app and tells
// the customer: the message is not lost for a link gone stale.
func (w *inbound) createRequest(req jira.NewRequest) (jira.Created, error) {
	created, err := w.jc.CreateRequest(req)
	var se *jira.StatusError
	if req.RaiseOnBehalfOf == "" || !errors.As(err, &se) || se.Status != 400 || !onlyField(se.Fields, "raiseOnBehalfOf") {
		return created, err
	}
	// Raised as the app: if that works, it was the customer JSM refused.
	req.RaiseOnBehalfOf = ""
	created, err = w.jc.CreateRequest(req)
	if err != nil {
		return created, err
	}
	w.log.Warn("inbound: JSM refused the linked customer; link removed, request raised by the app")
	if key := w.cfg.hashKey(); key != nil {
		if err := w.st.del(linkKey(w.job.Project, key, w.job.Channel, w.job.Event.ChatID)); err != nil {
			w.log.Warn("inbound: stale link not removed", "err", err)
		}
	}
	if e := w.reply(w.cfg.linkTextsIn(w.lang()).Lost); e != nil {
		w.log.Warn("inbound: customer not told the link is gone", "err", e)
	}
	return created, nil
}

// onlyField reports whether a validation error blames field or no field
// at all (JSM's answer to a bad raiseOnBehalfOf may name none; the retry
// without it tells).
func onlyField(fields []string, field string) bool {
	for _, f := range fields {
		if f != field {
			return false
		}
	}
	return true
}
