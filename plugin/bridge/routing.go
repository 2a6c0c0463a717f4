package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// # Routing: the first-message menu
//
// A project may offer request types by name (Config.RequestTypeMenu,
// resolved against the service desk's request types when saved). A chat's
// first message, with no request open, is then answered with a menu: a
// Telegram inline keyboard, a Viber keyboard, WhatsApp reply buttons (up to
// 3), a WhatsApp list (up to 10) or the website widget's buttons (up to 10). Each choice's data is "rt:<typeId>".
//
// The first message is not stored while the customer chooses: its job goes
// back into the durable queue (errHold), delayed, on a lane of its own
// beside the chat's ("<chat lane>:route"), so that the customer's press,
// which arrives on the chat's lane, is not held behind it. The bridge keeps
// only a sealed route record per chat: when it asked, and the type chosen
// (no content). Each held job looks again after holdDelay; once a type is
// chosen, or routeTimeout has passed without a choice (then the project's
// default RequestTypeID), the first held message opens the request with
// that type and the record is deleted; the chat's later messages, held
// behind it in order, become comments as usual.

// routeTimeout is how long the bridge waits for a choice before it opens
// the request with the project's default type.
const routeTimeout = 5 * time.Minute

// routeTTL bounds a route record whose message is delayed by retries.
const routeTTL = time.Hour

// routePrefix starts the data of a menu choice.
const routePrefix = "rt:"

// maxMenu bounds a menu: a WhatsApp list shows 10 rows.
const maxMenu = 10

// routeKey names a chat's pending choice; like chat:, by chat id.
//
//	route:<PROJECT>:<channel>:<chatId>   routeRecord (TTL 1 h; deleted when the request opens)
func routeKey(project, ch, chatID string) string { return "route:" + project + ":" + ch + ":" + chatID }

// routeRecord is a chat's menu: when it was sent, and the type chosen. It
// holds no text.
type routeRecord struct {
	At   int64  `json:"at"`             // when the menu was sent (Unix seconds)
	Type string `json:"type,omitempty"` // the request type id chosen; "" until then
}

// MenuType is one request type of the first-message menu.
type MenuType struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// errHold asks the consumer to put the job back into the queue: the
// customer has not chosen a request type yet.
var errHold = errors.New("bridge: waiting for the customer's choice of a request type")

// holdDelay is how long a held message waits before it looks again: soon
// while a customer typically chooses, then less often.
func holdDelay(age time.Duration) time.Duration {
	switch {
	case age < 30*time.Second:
		return 2 * time.Second
	case age < 2*time.Minute:
		return 5 * time.Second
	}
	return 15 * time.Second
}

// routeTexts are the menu's words, by language; a project overrides them by
// the names in routeTextNames (textoverrides.go).
type routeTexts struct {
	Prompt string // above the choices
	Button string // the WhatsApp list's button, at most 20 characters
	Chosen string // after a choice: {type}
	Closed string // a choice too late or not this chat's
}

var routeLanguages = map[string]*routeTexts{
	"en": {Prompt: "Thank you for your message. What is it about?", Button: "Choose a topic",
		Chosen: "Thank you. Your request about \"{type}\" is on its way to our team.", Closed: "This choice is closed."},
	"de": {Prompt: "Danke für Ihre Nachricht. Worum geht es?", Button: "Thema wählen",
		Chosen: "Danke. Ihre Anfrage zu \"{type}\" ist auf dem Weg zu unserem Team.", Closed: "Diese Auswahl ist geschlossen."},
	"fr": {Prompt: "Merci pour votre message. De quoi s'agit-il ?", Button: "Choisir un sujet",
		Chosen: "Merci. Votre demande « {type} » est transmise à notre équipe.", Closed: "Ce choix est clos."},
	"es": {Prompt: "Gracias por su mensaje. ¿De qué se trata?", Button: "Elegir un tema",
		Chosen: "Gracias. Su solicitud sobre \"{type}\" va camino de nuestro equipo.", Closed: "Esta elección está cerrada."},
	"pt": {Prompt: "Obrigado pela sua mensagem. De que se trata?", Button: "Escolher um tema",
		Chosen: "Obrigado. O seu pedido sobre \"{type}\" segue para a nossa equipa.", Closed: "Esta escolha está encerrada."},
	"uk": {Prompt: "Дякуємо за повідомлення. Чого воно стосується?", Button: "Оберіть тему",
		Chosen: "Дякуємо. Ваш запит щодо «{type}» передано нашій команді.", Closed: "Цей вибір закрито."},
}

func (c *Config) routeTexts(lang string) *routeTexts {
	return sideTexts(c, routeLanguages, routeTextNames, lang)
}

// menuType finds a type of the menu by id.
func (c *Config) menuType(id string) (MenuType, bool) {
	for _, t := range c.RequestTypeMenu {
		if t.ID == id {
			return t, true
		}
	}
	return MenuType{}, false
}

func (c *Config) menuChoices() []channel.Choice {
	out := make([]channel.Choice, 0, len(c.RequestTypeMenu))
	for _, t := range c.RequestTypeMenu {
		out = append(out, channel.Choice{Label: t.Name, Data: routePrefix + t.ID})
	}
	return out
}

// menuCapacity is how many choices a channel's menu shows: a list's rows
// where the messenger has lists, else its buttons; 0 without either.
func menuCapacity(ch channel.Channel) int {
	n := 0
	if c, ok := ch.(channel.Chooser); ok {
		n = c.MaxChoices()
	}
	if l, ok := ch.(channel.Lister); ok {
		n = max(n, l.MaxListChoices())
	}
	return n
}

// routed delivers a customer message, first asking a chat without a
// request which type it is about when the project offers a menu.
func (w *inbound) routed() error {
	hold, err := w.route()
	if hold || err != nil {
		if hold {
			return errHold
		}
		return err
	}
	if err := w.message(); err != nil {
		return err
	}
	if w.prog.Created && len(w.cfg.RequestTypeMenu) > 0 {
		// The request is open: the chat's next first message asks anew.
		return w.st.del(routeKey(w.job.Project, w.job.Channel, w.job.Event.ChatID))
	}
	return nil
}

// route decides whether the message waits for a choice: it sends the menu
// when the chat has none pending, and holds the message until the customer
// chooses or routeTimeout passes.
func (w *inbound) route() (hold bool, err error) {
	ev := &w.job.Event
	if len(w.cfg.RequestTypeMenu) < 2 || w.chat.Issue != "" || w.prog.Issue != "" || ev.Edited ||
		ev.Wiki == "" && len(ev.Attachments) == 0 || menuCapacity(w.ch) < len(w.cfg.RequestTypeMenu) {
		return false, nil
	}
	key := routeKey(w.job.Project, w.job.Channel, ev.ChatID)
	var rec routeRecord
	found, err := w.st.get(key, &rec)
	if err != nil {
		return false, err
	}
	switch {
	case found && rec.Type != "":
		return false, nil // chosen: open with it (requestTypeID)
	case found && w.b.now().Sub(time.Unix(rec.At, 0)) >= routeTimeout:
		w.log.Info("inbound: no request type chosen in time; the project's default is used")
		return false, nil
	case found:
		return true, nil
	case w.job.Held && w.prog.has("menu"):
		// Its menu's record is gone (expired with retries, or the chat was
		// forgotten and wrote again): the default type, rather than a
		// second menu.
		return false, nil
	}
	if err := w.step("menu", func() error {
		rec = routeRecord{At: w.b.now().Unix()}
		if err := w.st.put(key, &rec, routeTTL); err != nil {
			return err
		}
		return w.sendMenu()
	}); err != nil {
		return false, err
	}
	w.log.Info("inbound: asked the customer for the request type", "records", len(w.cfg.RequestTypeMenu))
	return true, nil
}

// sendMenu sends the menu: buttons where they fit, else a list.
func (w *inbound) sendMenu() error {
	t := w.cfg.routeTexts(w.lang())
	choices := w.cfg.menuChoices()
	if c, ok := w.ch.(channel.Chooser); ok && len(choices) <= c.MaxChoices() {
		return c.SendChoices(w.job.Event.ChatID, t.Prompt, choices)
	}
	if l, ok := w.ch.(channel.Lister); ok && len(choices) <= l.MaxListChoices() {
		return l.SendList(w.job.Event.ChatID, t.Prompt, t.Button, choices)
	}
	return fmt.Errorf("bridge: the channel shows no menu of %d choices", len(choices))
}

// requestTypeID is the type of the request a message opens: the one the
// customer chose, else the project's default.
func (w *inbound) requestTypeID() string {
	if len(w.cfg.RequestTypeMenu) == 0 {
		return w.cfg.RequestTypeID
	}
	var rec routeRecord
	if found, err := w.st.get(routeKey(w.job.Project, w.job.Channel, w.job.Event.ChatID), &rec); err == nil && found {
		if _, ok := w.cfg.menuType(rec.Type); ok {
			return rec.Type
		}
	}
	return w.cfg.RequestTypeID
}

// hold puts a job waiting for a choice back into the queue on the chat's
// route lane, delayed. Its progress (the menu sent, the flood count) is
// saved first, so that it does not repeat.
func (w *inbound) hold() (abi.QueueResult, error) {
	if err := w.saveProgress(); err != nil {
		return w.fail(err)
	}
	var rec routeRecord
	age := time.Duration(0)
	if found, err := w.st.get(routeKey(w.job.Project, w.job.Channel, w.job.Event.ChatID), &rec); err == nil && found {
		age = w.b.now().Sub(time.Unix(rec.At, 0))
	}
	w.job.Held = true
	payload, err := json.Marshal(w.job)
	if err == nil {
		err = w.env.Queue.Push(QueueInbound, w.chatKey()+":route", payload, holdDelay(age))
	}
	if err != nil {
		return w.fail(err)
	}
	w.log.Info("inbound: message held until the customer chooses a request type")
	return abi.QueueResult{}, nil
}

// chooseType handles a press of the menu: it records the type for the
// held message, which opens the request with it.
func (w *inbound) chooseType() error {
	ev := &w.job.Event
	t := w.cfg.routeTexts(w.lang())
	mt, known := w.cfg.menuType(strings.TrimPrefix(ev.Choice, routePrefix))
	key := routeKey(w.job.Project, w.job.Channel, ev.ChatID)
	var rec routeRecord
	found, err := w.st.get(key, &rec)
	if err != nil {
		return err
	}
	switch {
	case !w.prog.has("route") && (!known || !found || w.chat.Issue != "" || rec.Type != "" && rec.Type != mt.ID ||
		rec.Type == "" && w.b.now().Sub(time.Unix(rec.At, 0)) >= routeTimeout):
		w.log.Info("inbound: a request type chosen too late or not offered; refused")
		if err := w.answer(t.Closed); err != nil {
			return err
		}
		if _, ok := w.ch.(channel.Answerer); !ok {
			return w.replyStep("reply", t.Closed)
		}
		return nil
	}
	if err := w.step("route", func() error {
		rec.Type = mt.ID
		return w.st.put(key, &rec, routeTTL)
	}); err != nil {
		return err
	}
	w.log.Info("inbound: customer chose a request type")
	if err := w.answer(""); err != nil {
		return err
	}
	return w.replyStep("reply", fill(t.Chosen, "{type}", mt.Name))
}

// menuProblems resolves the names of the menu against the service desk's
// request types (JSM: GET /rest/servicedeskapi/servicedesk/{id}/requesttype)
// and sets cfg.RequestTypeMenu; it returns a problem for the field, or "".
// names nil keeps the saved menu, re-checked only when the desk changed.
func menuProblems(jc *jira.Client, cfg *Config, names *[]string, deskChanged bool, capacity int) string {
	if names == nil && (!deskChanged || len(cfg.RequestTypeMenu) == 0) {
		return ""
	}
	var want []string
	if names != nil {
		want = *names
	} else {
		for _, t := range cfg.RequestTypeMenu {
			want = append(want, t.Name)
		}
	}
	cfg.RequestTypeMenu = nil
	if len(want) == 0 {
		return ""
	}
	if len(want) < 2 || len(want) > maxMenu {
		return fmt.Sprintf("Offer 2 to %d request types, or none.", maxMenu)
	}
	if capacity < len(want) {
		return fmt.Sprintf("This channel shows at most %d choices.", capacity)
	}
	types, err := jc.RequestTypes(cfg.ServiceDeskID)
	if err != nil {
		return jiraProblem(err)
	}
	for _, name := range want {
		name = strings.TrimSpace(name)
		var match *jira.RequestType
		for i := range types {
			if strings.EqualFold(strings.TrimSpace(types[i].Name), name) {
				match = &types[i]
			}
		}
		if match == nil {
			return "This service desk has no request type named " + quoteShort(name) + "."
		}
		if _, dup := cfg.menuType(match.ID); dup {
			return "The request type " + quoteShort(name) + " is named twice."
		}
		if !channel.ValidChoiceData(routePrefix + match.ID) {
			return "The request type " + quoteShort(name) + " has an id the menu cannot carry."
		}
		cfg.RequestTypeMenu = append(cfg.RequestTypeMenu, MenuType{ID: match.ID, Name: match.Name})
	}
	return ""
}

// menuNames are the names of the menu, as config.get shows them.
func (c *Config) menuNames() []string {
	out := []string{}
	for _, t := range c.RequestTypeMenu {
		out = append(out, t.Name)
	}
	return out
}
