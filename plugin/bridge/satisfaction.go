package bridge

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/jira"
)

// # Satisfaction in the messenger
//
// After the resolution notice, a project with Satisfaction on asks the
// customer to rate the help with buttons (channel.Chooser): five where the
// messenger shows five (Telegram, Viber, the website widget), three where it takes three
// (WhatsApp's reply buttons: 1, 3 and 5 of JSM's scale). Each button's data
// names the rating and the request, "csat:<n>:<KEY>", so nothing is stored
// while the customer decides. A press (channel.Chosen) counts only for a
// resolved request mapped to the same chat. The bridge then keeps, for
// surveyWindow, a sealed csat record (the request key, the rating, when):
// the customer's next text message in that window is the rating's comment.
// The rating goes to Jira once, with its comment or without it when the
// window closes (a delayed job on a lane of its own, so that it does not
// hold the chat's messages back): as JSM's request feedback (POST
// /rest/servicedeskapi/request/{key}/feedback), or, where JSM refuses
// feedback, as an internal note and the issue property
// chatbridge.satisfaction. The record is deleted then; it expires after
// csatTTL at the latest.

// surveyWindow is how long after a rating the customer's next message is
// its comment: long enough to type a sentence, short enough that a new
// question is not taken for one. Below Forge's longest queue delay (900 s).
const surveyWindow = 10 * time.Minute

// csatTTL bounds a csat record whose closing job is delayed by retries.
const csatTTL = 24 * time.Hour

// csatKey names a chat's pending rating; like chat: and seen:, by chat id.
//
//	csat:<PROJECT>:<channel>:<chatId>   csatRecord (TTL 24 h; deleted when the rating reaches Jira)
func csatKey(project, ch, chatID string) string { return "csat:" + project + ":" + ch + ":" + chatID }

// csatRecord is a rating waiting for its comment. It holds no text.
type csatRecord struct {
	Issue  string `json:"issue"`
	Rating int    `json:"rating"`
	At     int64  `json:"at"` // when the customer rated (Unix seconds)
	// Job is the nonce of the closing job that posts the rating without a
	// comment.
	Job string `json:"job"`
}

// kindSurveyDue is the bridge's own inbound event: the comment window of a
// rating closed. No channel produces it.
const kindSurveyDue channel.Kind = "survey-due"

// surveyTexts are the survey's words, by language; a project overrides
// them by the names in surveyTextNames (textoverrides.go).
type surveyTexts struct {
	Prompt    string // the question above the buttons
	Thanks    string // after a press: {minutes}
	Commented string // after the comment
	Closed    string // a press on an old or foreign survey
	Already   string // a press on a request already rated
	Low       string // the three-button scale's labels
	Mid       string
	High      string
}

var surveyLanguages = map[string]*surveyTexts{
	"en": {
		Prompt:    "How satisfied are you with our help? 1 is poor, 5 is excellent.",
		Thanks:    "Thank you for your rating! If you want to add a comment, write it in the next {minutes} minutes.",
		Commented: "Thank you, your comment has reached our support team.",
		Closed:    "This survey is closed.",
		Already:   "You have rated this request already.",
		Low:       "Poor", Mid: "OK", High: "Excellent",
	},
	"de": {
		Prompt:    "Wie zufrieden sind Sie mit unserer Hilfe? 1 ist schlecht, 5 ist ausgezeichnet.",
		Thanks:    "Danke für Ihre Bewertung! Wenn Sie einen Kommentar hinzufügen möchten, schreiben Sie ihn in den nächsten {minutes} Minuten.",
		Commented: "Danke, Ihr Kommentar hat unser Support-Team erreicht.",
		Closed:    "Diese Umfrage ist geschlossen.",
		Already:   "Sie haben diese Anfrage bereits bewertet.",
		Low:       "Schlecht", Mid: "In Ordnung", High: "Ausgezeichnet",
	},
	"fr": {
		Prompt:    "Êtes-vous satisfait de notre aide ? 1 est mauvais, 5 est excellent.",
		Thanks:    "Merci pour votre note ! Si vous voulez ajouter un commentaire, écrivez-le dans les {minutes} prochaines minutes.",
		Commented: "Merci, votre commentaire est parvenu à notre équipe d'assistance.",
		Closed:    "Ce questionnaire est clos.",
		Already:   "Vous avez déjà noté cette demande.",
		Low:       "Mauvais", Mid: "Correct", High: "Excellent",
	},
	"es": {
		Prompt:    "¿Qué tan satisfecho está con nuestra ayuda? 1 es malo, 5 es excelente.",
		Thanks:    "¡Gracias por su valoración! Si quiere añadir un comentario, escríbalo en los próximos {minutes} minutos.",
		Commented: "Gracias, su comentario ha llegado a nuestro equipo de soporte.",
		Closed:    "Esta encuesta está cerrada.",
		Already:   "Ya ha valorado esta solicitud.",
		Low:       "Malo", Mid: "Correcto", High: "Excelente",
	},
	"pt": {
		Prompt:    "Quão satisfeito está com a nossa ajuda? 1 é mau, 5 é excelente.",
		Thanks:    "Obrigado pela sua avaliação! Se quiser acrescentar um comentário, escreva-o nos próximos {minutes} minutos.",
		Commented: "Obrigado, o seu comentário chegou à nossa equipa de suporte.",
		Closed:    "Este inquérito está encerrado.",
		Already:   "Já avaliou este pedido.",
		Low:       "Mau", Mid: "Razoável", High: "Excelente",
	},
	"uk": {
		Prompt:    "Наскільки ви задоволені нашою допомогою? 1 — погано, 5 — чудово.",
		Thanks:    "Дякуємо за оцінку! Якщо хочете додати коментар, напишіть його протягом {minutes} хвилин.",
		Commented: "Дякуємо, ваш коментар отримала наша служба підтримки.",
		Closed:    "Це опитування закрито.",
		Already:   "Ви вже оцінили цей запит.",
		Low:       "Погано", Mid: "Нормально", High: "Чудово",
	},
}

// surveyTexts are the survey's words in the customer's language (lang, as
// the messenger names it), else the project's, else English.
func (c *Config) surveyTexts(lang string) *surveyTexts {
	return sideTexts(c, surveyLanguages, surveyTextNames, lang)
}

// choiceData is a button's data: "csat:<n>:<KEY>".
func choiceData(rating int, issue string) string {
	return "csat:" + strconv.Itoa(rating) + ":" + issue
}

// parseChoice reads a button's data; ok is false for anything else.
func parseChoice(data string) (rating int, issue string, ok bool) {
	rest, found := strings.CutPrefix(data, "csat:")
	if !found || len(rest) < 3 || rest[1] != ':' || rest[0] < '1' || rest[0] > '5' {
		return 0, "", false
	}
	issue = rest[2:]
	if !jira.ValidIssueKey(issue) {
		return 0, "", false
	}
	return int(rest[0] - '0'), issue, true
}

// surveyChoices are the buttons of a request's survey on a channel that
// shows up to max buttons: the five ratings, or three of them (1, 3, 5);
// nil when fewer fit or the key is too long for a button's data.
func surveyChoices(t *surveyTexts, issue string, max int) []channel.Choice {
	if !channel.ValidChoiceData(choiceData(5, issue)) {
		return nil
	}
	switch {
	case max >= 5:
		out := make([]channel.Choice, 0, 5)
		for n := 1; n <= 5; n++ {
			out = append(out, channel.Choice{Label: strings.Repeat("★", n), Data: choiceData(n, issue)})
		}
		return out
	case max >= 3:
		return []channel.Choice{{Label: t.Low, Data: choiceData(1, issue)}, {Label: t.Mid, Data: choiceData(3, issue)},
			{Label: t.High, Data: choiceData(5, issue)}}
	}
	return nil
}

// survey sends the rating buttons after the resolution notice, once.
func (o *outbound) survey() error {
	if !o.cfg.Satisfaction {
		return nil
	}
	chooser, ok := o.ch.(channel.Chooser)
	if !ok {
		return nil
	}
	t := o.cfg.surveyTexts(o.chat.Lang)
	choices := surveyChoices(t, o.job.Issue, chooser.MaxChoices())
	if choices == nil {
		o.log.Info("outbound: no survey: the buttons do not fit")
		return nil
	}
	return o.step("survey", func() error {
		err := o.send(func(chat string) error { return chooser.SendChoices(chat, t.Prompt, choices) })
		if err == nil {
			o.log.Info("outbound: satisfaction survey sent")
		}
		return err
	})
}

// chosen handles a button press.
func (w *inbound) chosen() error {
	ev := &w.job.Event
	if strings.HasPrefix(ev.Choice, routePrefix) {
		return w.chooseType() // routing.go
	}
	t := w.cfg.surveyTexts(w.lang())
	rating, issue, ok := parseChoice(ev.Choice)
	if !ok {
		w.log.Info("inbound: a button the bridge does not know; ignored")
		return w.answer("")
	}
	if !w.cfg.Satisfaction {
		return w.answer(t.Closed)
	}
	var rev issueRecord
	found, err := w.st.get(issueKey(issue), &rev)
	if err != nil {
		return err
	}
	// Three messages, not one: which check refused tells a reader of the
	// log what happened without naming the request or the chat.
	switch {
	case !found:
		w.log.Info("inbound: a rating for a request not mapped; refused")
		return w.answer(t.Closed)
	case rev.Project != w.job.Project || rev.Channel != w.job.Channel || rev.Chat != ev.ChatID:
		w.log.Info("inbound: a rating for another chat's request; refused")
		return w.answer(t.Closed)
	case !rev.Resolved:
		// The resolution's event queues the notice and its survey before
		// it records Resolved (so that a crash between the two cannot lose
		// the notice), and a press can overtake that write: Jira says
		// whether the request is resolved now.
		_, category, err := w.jc.IssueStatus(issue)
		if err != nil {
			return err
		}
		if category != "done" {
			w.log.Info("inbound: a rating for a request not resolved; refused")
			return w.answer(t.Closed)
		}
	}
	key := csatKey(w.job.Project, w.job.Channel, ev.ChatID)
	var rec csatRecord
	pending, err := w.st.get(key, &rec)
	if err != nil {
		return err
	}
	if pending && rec.Issue == issue {
		// A second press in the window changes the rating.
		if err := w.step("rate", func() error {
			rec.Rating = rating
			return w.st.put(key, &rec, csatTTL)
		}); err != nil {
			return err
		}
		return w.answer(fill(t.Thanks, "{minutes}", strconv.Itoa(int(surveyWindow/time.Minute))))
	}
	if !w.prog.has("rate") {
		_, rated, err := w.jc.GetFeedback(issue)
		if err != nil && !errors.Is(err, jira.ErrDenied) {
			return err
		}
		if rated {
			return w.answer(t.Already)
		}
	}
	if pending {
		// The chat rated another request just before: that one goes now.
		if err := w.step("flush", func() error { return w.submitRating(rec, "") }); err != nil {
			return err
		}
	}
	due := "csat." + w.job.Nonce
	if err := w.step("rate", func() error {
		rec = csatRecord{Issue: issue, Rating: rating, At: w.b.now().Unix(), Job: due}
		return w.st.put(key, &rec, csatTTL)
	}); err != nil {
		return err
	}
	if err := w.step("due", func() error { return w.pushDue(due) }); err != nil {
		return err
	}
	w.log.Info("inbound: customer rated a request", "rating", rating)
	thanks := fill(t.Thanks, "{minutes}", strconv.Itoa(int(surveyWindow/time.Minute)))
	if err := w.answer(""); err != nil {
		return err
	}
	return w.replyStep("reply", thanks)
}

// answer answers a press where the messenger expects it, once; a failure
// costs the customer a spinner, never the rating.
func (w *inbound) answer(text string) error {
	a, ok := w.ch.(channel.Answerer)
	if !ok || w.job.Event.Callback == "" {
		return nil
	}
	return w.step("answer", func() error {
		if err := a.AnswerChoice(w.job.Event.Callback, text); err != nil {
			w.log.Warn("inbound: button press not answered", "err", err)
		}
		return nil
	})
}

// pushDue queues the job that closes the comment window, on a lane of its
// own: a delayed message holds its lane back.
func (w *inbound) pushDue(id string) error {
	job := inboundJob{Project: w.job.Project, Channel: w.job.Channel, Nonce: id, Queued: w.b.now().UnixMilli(),
		Event: channel.Inbound{ID: id, Kind: kindSurveyDue, ChatID: w.job.Event.ChatID}}
	payload, err := json.Marshal(job)
	if err != nil {
		return err
	}
	return w.env.Queue.Push(QueueInbound, w.chatKey()+":csat", payload, surveyWindow)
}

// surveyDue posts a rating whose window closed without a comment.
func (w *inbound) surveyDue() error {
	key := csatKey(w.job.Project, w.job.Channel, w.job.Event.ChatID)
	var rec csatRecord
	found, err := w.st.get(key, &rec)
	if err != nil || !found || rec.Job != w.job.Event.ID {
		return err // commented, replaced, forgotten or expired
	}
	if err := w.step("post", func() error { return w.submitRating(rec, "") }); err != nil {
		return err
	}
	return w.st.del(key)
}

// surveyComment takes a text message as the comment of a pending rating;
// taken is false when there is none to comment (or the window closed).
func (w *inbound) surveyComment() (taken bool, err error) {
	ev := &w.job.Event
	if ev.Command != "" || ev.Edited || strings.TrimSpace(ev.Plain) == "" {
		return false, nil
	}
	key := csatKey(w.job.Project, w.job.Channel, ev.ChatID)
	var rec csatRecord
	if !w.prog.has("comment") {
		found, err := w.st.get(key, &rec)
		if err != nil || !found {
			return false, err
		}
		if w.b.now().Sub(time.Unix(rec.At, 0)) > surveyWindow {
			return false, nil // the closing job posts it
		}
		if err := w.step("comment", func() error { return w.submitRating(rec, ev.Plain) }); err != nil {
			return true, err
		}
		if err := w.st.del(key); err != nil {
			return true, err
		}
		w.log.Info("inbound: rating commented")
	}
	return true, w.replyStep("reply", w.cfg.surveyTexts(w.lang()).Commented)
}

// submitRating puts a rating into Jira once: as the request's feedback, or
// where JSM refuses it, as an internal note and an issue property. A
// request that already has feedback keeps it (an earlier attempt's, or the
// customer's own in the portal).
func (w *inbound) submitRating(rec csatRecord, comment string) error {
	if _, rated, err := w.jc.GetFeedback(rec.Issue); err != nil && !errors.Is(err, jira.ErrDenied) {
		return err
	} else if rated {
		w.log.Info("inbound: the request has feedback already; rating not repeated")
		return nil
	}
	err := w.jc.PostFeedback(rec.Issue, jira.Feedback{Rating: rec.Rating, Comment: comment})
	var se *jira.StatusError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jira.ErrNotFound):
		w.log.Info("inbound: rated request no longer exists; rating dropped")
		return nil
	case !errors.As(err, &se) || se.Temporary():
		return err
	}
	w.log.Info("inbound: JSM took no feedback; rating kept as a note", "status", se.Status)
	if err := w.jc.SetSatisfaction(rec.Issue, rec.Rating, w.job.Channel); err != nil {
		return err
	}
	note := fill(noteRating, "{channel}", channelTitle(w.job.Channel), "{rating}", strconv.Itoa(rec.Rating))
	if comment != "" {
		note += "\n{quote}" + escapeWiki(comment) + "{quote}"
	}
	return w.jiraStep("ratingnote", rec.Issue, nil, func(op string) error {
		_, err := w.jc.AddMarkedComment(rec.Issue, note, false, op)
		return err
	})
}

// noteRating is the internal note of a rating JSM took no feedback for.
const noteRating = "The customer rated this request {rating} of 5 in {channel}."
