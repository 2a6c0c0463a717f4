package bridge

import (
	"errors"
	"slices"
	"strings"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// Several open requests per chat (issue 18, item 8). A chat writes to one
// request at a time, its current one (chatRecord.Issue); /new leaves that
// one open in Jira and starts another, and the chat record keeps the keys
// of the chat's other open requests (chatRecord.Others). /requests lists
// them with buttons (channel.Chooser: Telegram's inline keyboard, Viber's
// keyboard, WhatsApp's reply buttons, the website widget's buttons); a
// press makes that request the current one. While a chat has more than one open request, an agent's
// reply is headed with its request's key ("[SUP-12]"), so the customer
// sees which request it answers. Channels without bot commands send /new
// and /requests as text, which the bridge recognises itself.

// requestChoicePrefix marks a /requests button: "req:<KEY>", or "req:new".
const requestChoicePrefix = "req:"

const (
	commandRequests = "requests"
	choiceNew       = "new"
)

// textCommand recognises /new and /requests typed as text, on channels
// that have no bot commands or that do not know them (Telegram sends
// "/requests" as text since the bridge does not register it).
func textCommand(ev *channel.Inbound) string {
	if ev.Edited || ev.Command != "" || len(ev.Attachments) > 0 {
		return ev.Command
	}
	name, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(ev.Plain)), "@")
	switch name {
	case "/" + channel.CommandNew:
		return channel.CommandNew
	case "/" + commandRequests:
		return commandRequests
	}
	return ""
}

// addKey adds key to list unless it is "" or there already.
func addKey(list []string, key string) []string {
	if key == "" || slices.Contains(list, key) {
		return list
	}
	return append(list, key)
}

// dropKey removes key from list and reports whether it was there.
func dropKey(list *[]string, key string) bool {
	i := slices.Index(*list, key)
	if i < 0 {
		return false
	}
	*list = slices.Delete(*list, i, i+1)
	return true
}

// openRequests are the chat's open requests, the current one first.
func (c *chatRecord) openRequests() []string {
	var out []string
	if c.Issue != "" {
		out = append(out, c.Issue)
	}
	for _, k := range c.Others {
		out = addKey(out, k)
	}
	return out
}

// tagReplies reports whether an agent's reply on issue must say which
// request it answers: the chat has another open request.
func (c *chatRecord) tagReplies(issue string) bool {
	for _, k := range c.openRequests() {
		if k != issue {
			return true
		}
	}
	return false
}

// requestTag heads a reply with its request's key where the chat has
// several open requests.
func (o *outbound) requestTag(c channel.Content) channel.Content {
	if !o.chat.tagReplies(o.job.Issue) || o.rev.Thread != "" && o.cfg.topicsOf(o.rev.Channel) { // a topic says it (topics.go)
		return c
	}
	return corrected(c, "["+o.job.Issue+"]")
}

// newRequest is /new: the current request stays open in Jira, among the
// chat's others, and the next message starts another.
func (w *inbound) newRequest() error {
	if err := w.step("close", func() error {
		if w.chat.Issue == "" {
			return nil
		}
		w.log.Info("inbound: customer started another request")
		w.chat.Others = addKey(w.chat.Others, w.chat.Issue)
		w.chat.Issue, w.chat.IssueID = "", ""
		return w.saveChat()
	}); err != nil {
		return err
	}
	return w.replyStep("reply", w.texts().NewDone)
}

// listRequests is /requests: the chat's open requests as buttons, the most
// recent first, and one to start a new request; as text where the channel
// has no buttons.
func (w *inbound) listRequests() error {
	rt := w.cfg.requestTextsIn(w.lang())
	open := w.chat.openRequests()
	if len(open) == 0 {
		return w.replyStep("reply", w.texts().NoRequest)
	}
	chooser, ok := w.ch.(channel.Chooser)
	if !ok {
		return w.replyStep("reply", fill(rt.ListText, "{keys}", strings.Join(open, ", ")))
	}
	// The current request first, then the others newest first.
	var list []string
	list = addKey(list, w.chat.Issue)
	others := slices.Clone(w.chat.Others)
	slices.Reverse(others)
	for _, k := range others {
		list = addKey(list, k)
	}
	room := max(chooser.MaxChoices()-1, 1)
	var choices []channel.Choice
	for _, k := range list {
		if len(choices) == room {
			break
		}
		if !channel.ValidChoiceData(requestChoicePrefix + k) {
			continue // a project key too long for a button's data
		}
		label := k
		if k == w.chat.Issue {
			label = fill(rt.Current, "{key}", k)
		}
		choices = append(choices, channel.Choice{Label: label, Data: requestChoicePrefix + k})
	}
	choices = append(choices, channel.Choice{Label: rt.New, Data: requestChoicePrefix + choiceNew})
	prompt := rt.Prompt
	if w.chat.Issue != "" {
		prompt = fill(rt.PromptCurrent, "{key}", w.chat.Issue)
	}
	return w.step("reply", func() error { return w.sendChoices(chooser, prompt, choices) })
}

func (w *inbound) sendChoices(chooser channel.Chooser, text string, choices []channel.Choice) error {
	if err := chooser.SendChoices(w.job.Event.ChatID, text, choices); err != nil && !errors.Is(err, channel.ErrBlocked) {
		return err
	}
	return nil
}

// requestChosen handles a /requests button; taken is false for another
// button (the survey's).
func (w *inbound) requestChosen() (taken bool, err error) {
	data, ok := strings.CutPrefix(w.job.Event.Choice, requestChoicePrefix)
	if !ok {
		return false, nil
	}
	rt := w.cfg.requestTextsIn(w.lang())
	if data == choiceNew {
		if err := w.answer(""); err != nil {
			return true, err
		}
		return true, w.newRequest()
	}
	// Only a request of this chat that is still open: a stale button, or
	// one typed by hand on Viber, gets no further.
	var rev issueRecord
	found, err := w.st.get(issueKey(data), &rev)
	if err != nil {
		return true, err
	}
	if !found || rev.Resolved || rev.Project != w.job.Project || rev.Channel != w.job.Channel || rev.Chat != w.job.Event.ChatID ||
		!slices.Contains(w.chat.openRequests(), data) {
		w.log.Info("inbound: a request button for no open request of this chat; refused")
		if dropKey(&w.chat.Others, data) { // gone from Jira or resolved meanwhile
			if err := w.saveChat(); err != nil {
				return true, err
			}
		}
		if err := w.answer(rt.Gone); err != nil {
			return true, err
		}
		return true, w.replyStep("reply", rt.Gone)
	}
	if err := w.step("choose", func() error {
		if w.chat.Issue == data {
			return nil
		}
		w.chat.Others = addKey(w.chat.Others, w.chat.Issue)
		dropKey(&w.chat.Others, data)
		w.chat.Issue, w.chat.IssueID = data, rev.IssueID
		w.log.Info("inbound: customer chose the request they write to")
		return w.saveChat()
	}); err != nil {
		return true, err
	}
	if err := w.answer(""); err != nil {
		return true, err
	}
	return true, w.replyStep("reply", fill(rt.Chosen, "{key}", data))
}

// requestTexts are the bot's words about several requests, in one
// language; a project overrides them by the names in requestTextNames
// (textoverrides.go).
type requestTexts struct {
	Prompt        string // the list, no current request
	PromptCurrent string // {key}
	Current       string // a button's label for the current request, {key}
	New           string // the button that starts a new request (WhatsApp: at most 20 characters)
	Chosen        string // {key}
	Gone          string
	ListText      string // {keys}: where a channel has no buttons
}

var requestLanguages = map[string]*requestTexts{
	"en": {Prompt: "Your open requests. Choose the one you are writing to:", PromptCurrent: "You are writing to {key}. Choose another open request, or start a new one:",
		Current: "{key} (current)", New: "New request", Chosen: "You are now writing to {key}.", Gone: "That request is no longer open.",
		ListText: "Your open requests: {keys}."},
	"de": {Prompt: "Ihre offenen Anfragen. Wählen Sie die, an die Sie schreiben:", PromptCurrent: "Sie schreiben an {key}. Wählen Sie eine andere offene Anfrage oder beginnen Sie eine neue:",
		Current: "{key} (aktuell)", New: "Neue Anfrage", Chosen: "Sie schreiben jetzt an {key}.", Gone: "Diese Anfrage ist nicht mehr offen.",
		ListText: "Ihre offenen Anfragen: {keys}."},
	"fr": {Prompt: "Vos demandes ouvertes. Choisissez celle à laquelle vous écrivez :", PromptCurrent: "Vous écrivez à {key}. Choisissez une autre demande ouverte ou commencez-en une nouvelle :",
		Current: "{key} (en cours)", New: "Nouvelle demande", Chosen: "Vous écrivez maintenant à {key}.", Gone: "Cette demande n'est plus ouverte.",
		ListText: "Vos demandes ouvertes : {keys}."},
	"es": {Prompt: "Sus solicitudes abiertas. Elija a cuál escribe:", PromptCurrent: "Está escribiendo a {key}. Elija otra solicitud abierta o empiece una nueva:",
		Current: "{key} (actual)", New: "Nueva solicitud", Chosen: "Ahora escribe a {key}.", Gone: "Esa solicitud ya no está abierta.",
		ListText: "Sus solicitudes abiertas: {keys}."},
	"pt": {Prompt: "Os seus pedidos abertos. Escolha a qual está a escrever:", PromptCurrent: "Está a escrever para {key}. Escolha outro pedido aberto ou comece um novo:",
		Current: "{key} (atual)", New: "Novo pedido", Chosen: "Está agora a escrever para {key}.", Gone: "Esse pedido já não está aberto.",
		ListText: "Os seus pedidos abertos: {keys}."},
	"uk": {Prompt: "Ваші відкриті запити. Виберіть, до якого ви пишете:", PromptCurrent: "Ви пишете до {key}. Виберіть інший відкритий запит або почніть новий:",
		Current: "{key} (поточний)", New: "Новий запит", Chosen: "Тепер ви пишете до {key}.", Gone: "Цей запит уже не відкритий.",
		ListText: "Ваші відкриті запити: {keys}."},
}

// requestTextsIn are the texts in the customer's language, else the
// project's, else English.
func (c *Config) requestTextsIn(lang string) *requestTexts {
	return sideTexts(c, requestLanguages, requestTextNames, lang)
}
