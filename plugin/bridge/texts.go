package bridge

import (
	"sort"
	"strings"
)

// texts are what the bot says to customers, in one language. Admins may
// replace Greeting and Resolved per project.
type texts struct {
	Greeting    string
	Help        string
	NewDone     string
	Status      string // {key}, {status}
	NoRequest   string
	Resolved    string
	TooLarge    string // {name}
	NotAccepted string
	Failed      string
	// FileTooLarge tells the customer an agent's file could not be sent.
	FileTooLarge string // {name}
	// Unreadable answers a message the messenger delivered without its
	// content (WhatsApp's unsupported messages).
	Unreadable string
	// Corrected heads an agent's edited reply, sent again in full.
	Corrected string
	// Forgotten answers /forget: the bridge no longer links this chat to
	// any request; the requests stay in the support team's Jira.
	Forgotten string
	// ForgetInGroup answers /forget in a group chat, which it does not
	// forget: the group's requests are its members' together.
	ForgetInGroup string
}

// languages holds the bot's texts; add a language by adding an entry.
var languages = map[string]*texts{
	"en": {
		Greeting:      "Hello! Write your question here and our support team will answer in this chat.",
		Help:          "Write your message and our support team will answer here. You can send photos and documents too.\n/status shows your request and its status.\n/new starts a new request.\n/forget removes this chat's link to your requests.\n/help shows this message.",
		NewDone:       "Your next message will start a new request.",
		Status:        "Your request {key}: {status}",
		NoRequest:     "You have no open request. Write a message to start one.",
		Resolved:      "Your request has been resolved. If you need anything else, just write a new message.",
		TooLarge:      "Sorry, the file {name} is too large to pass on (the limit is 20 MB). Please send a smaller file.",
		NotAccepted:   "Sorry, this kind of file is not accepted here. Please describe it in words or send it as a document.",
		Failed:        "Sorry, we could not pass on your message. Please try again later.",
		FileTooLarge:  "Our support team shared a file ({name}) that is too large to send here.",
		Unreadable:    "Sorry, this kind of message cannot be passed on to our support team. Please send it as text, a photo or a document.",
		Corrected:     "Correction to our earlier reply:",
		Forgotten:     "Done: this chat is no longer linked to your requests, and we keep nothing of it here. Your requests stay with our support team. Your next message starts a new request.",
		ForgetInGroup: "This group's requests belong to all of its members, so /forget works in a private chat with this bot only. To have this group's chat forgotten, ask our support team.",
	},
	"de": {
		Greeting:      "Hallo! Schreiben Sie Ihre Frage hier, unser Support-Team antwortet in diesem Chat.",
		Help:          "Schreiben Sie Ihre Nachricht, unser Support-Team antwortet hier. Sie können auch Fotos und Dokumente senden.\n/status zeigt Ihre Anfrage und ihren Status.\n/new beginnt eine neue Anfrage.\n/forget löst die Verknüpfung dieses Chats mit Ihren Anfragen.\n/help zeigt diese Nachricht.",
		NewDone:       "Ihre nächste Nachricht beginnt eine neue Anfrage.",
		Status:        "Ihre Anfrage {key}: {status}",
		NoRequest:     "Sie haben keine offene Anfrage. Schreiben Sie eine Nachricht, um eine zu beginnen.",
		Resolved:      "Ihre Anfrage wurde gelöst. Wenn Sie noch etwas brauchen, schreiben Sie einfach eine neue Nachricht.",
		TooLarge:      "Die Datei {name} ist leider zu groß (höchstens 20 MB). Bitte senden Sie eine kleinere Datei.",
		NotAccepted:   "Diese Art von Datei wird hier leider nicht angenommen. Bitte beschreiben Sie sie oder senden Sie sie als Dokument.",
		Failed:        "Ihre Nachricht konnte leider nicht weitergegeben werden. Bitte versuchen Sie es später noch einmal.",
		FileTooLarge:  "Unser Support-Team hat eine Datei ({name}) geteilt, die zu groß ist, um sie hier zu senden.",
		Unreadable:    "Diese Art von Nachricht kann leider nicht an unser Support-Team weitergegeben werden. Bitte senden Sie sie als Text, Foto oder Dokument.",
		Corrected:     "Korrektur unserer vorherigen Antwort:",
		Forgotten:     "Erledigt: Dieser Chat ist nicht mehr mit Ihren Anfragen verknüpft, und wir speichern hier nichts mehr davon. Ihre Anfragen bleiben bei unserem Support-Team. Ihre nächste Nachricht beginnt eine neue Anfrage.",
		ForgetInGroup: "Die Anfragen dieser Gruppe gehören allen ihren Mitgliedern, daher wirkt /forget nur im privaten Chat mit diesem Bot. Wenn dieser Gruppenchat vergessen werden soll, wenden Sie sich an unser Support-Team.",
	},
}

// DefaultLanguage is used when a configuration names none.
const DefaultLanguage = "en"

// Languages lists the supported language codes, sorted.
func Languages() []string {
	var l []string
	for k := range languages {
		l = append(l, k)
	}
	sort.Strings(l)
	return l
}

func textsFor(lang string) *texts {
	if t, ok := languages[lang]; ok {
		return t
	}
	return languages[DefaultLanguage]
}

// fill replaces {name} style placeholders.
func fill(s string, kv ...string) string {
	return strings.NewReplacer(kv...).Replace(s)
}

// Texts the bridge writes into Jira, for agents; always English, like the
// rest of an agent's Jira.
const (
	noteBlocked       = "The customer blocked the bot in {channel}: replies cannot be delivered until they write again."
	noteNotDelivered  = "This reply was not delivered: the customer has blocked the bot in {channel}."
	noteTooLarge      = "The customer tried to send a file ({name}, {size}) that is over {channel}'s download limit of 20 MB. They were asked to send a smaller one."
	noteSendFailed    = "This reply could not be delivered to the customer in {channel} ({reason})."
	noteUndelivered   = "A reply was not delivered to the customer in {channel}: {reason} (error {code})."
	descriptionFooter = "Sent by {name} via {channel}."
	attachmentOnly    = "({kind})"
)
