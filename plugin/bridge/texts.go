package bridge

import (
	"sort"
	"strings"
)

// texts are what the bot says to customers, in one language. Admins may
// replace any of them per project and language (Config.Texts, by the
// names in textNames).
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
	// Acknowledged tells the customer the request their message opened.
	Acknowledged string // {key}
	// OutOfHours answers a message outside the project's business hours,
	// once per chat and closed period (hours.go).
	OutOfHours string // {opens}
	// Flood tells a chat over the project's flood limit that its messages
	// are not passed on for a while, once per window (abuse.go).
	Flood string // {minutes}
}

// textName is one main text an admin may override (textoverrides.go).
type textName = textOf[texts]

// textNames lists every text by its configuration name.
var textNames = []textName{
	{"greeting", func(t *texts) *string { return &t.Greeting }, nil, 0},
	{"help", func(t *texts) *string { return &t.Help }, nil, 0},
	{"newDone", func(t *texts) *string { return &t.NewDone }, nil, 0},
	{"status", func(t *texts) *string { return &t.Status }, []string{"{key}", "{status}"}, 0},
	{"noRequest", func(t *texts) *string { return &t.NoRequest }, nil, 0},
	{"resolved", func(t *texts) *string { return &t.Resolved }, nil, 0},
	{"tooLarge", func(t *texts) *string { return &t.TooLarge }, []string{"{name}"}, 0},
	{"notAccepted", func(t *texts) *string { return &t.NotAccepted }, nil, 0},
	{"failed", func(t *texts) *string { return &t.Failed }, nil, 0},
	{"fileTooLarge", func(t *texts) *string { return &t.FileTooLarge }, []string{"{name}"}, 0},
	{"unreadable", func(t *texts) *string { return &t.Unreadable }, nil, 0},
	{"corrected", func(t *texts) *string { return &t.Corrected }, nil, 0},
	{"forgotten", func(t *texts) *string { return &t.Forgotten }, nil, 0},
	{"forgetInGroup", func(t *texts) *string { return &t.ForgetInGroup }, nil, 0},
	{"acknowledged", func(t *texts) *string { return &t.Acknowledged }, []string{"{key}"}, 0},
	{"outOfHours", func(t *texts) *string { return &t.OutOfHours }, []string{"{opens}"}, 0},
	{"flood", func(t *texts) *string { return &t.Flood }, []string{"{minutes}"}, 0},
}

func lookupText(name string) (overridable, bool) {
	for _, n := range allTextNames() {
		if n.name == name {
			return n, true
		}
	}
	return overridable{}, false
}

// TextNames lists the names of the texts an admin may override, in the
// order a settings UI shows them.
func TextNames() []string {
	all := allTextNames()
	names := make([]string, len(all))
	for i, n := range all {
		names[i] = n.name
	}
	return names
}

// languages holds the bot's texts; add a language by adding an entry with
// every text (TestEveryLanguageHasEveryText).
var languages = map[string]*texts{
	"en": {
		Greeting:      "Hello! Write your question here and our support team will answer in this chat.",
		Help:          "Write your message and our support team will answer here. You can send photos and documents too.\n/status shows your request and its status.\n/new starts a new request.\n/requests lists your open requests and lets you choose the one you write to.\n/forget removes this chat's link to your requests.\n/help shows this message.",
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
		Acknowledged:  "Thank you! Your request {key} is open; our support team will answer in this chat.",
		OutOfHours:    "Thank you for your message. Our support team is away right now and will answer from {opens}.",
		Flood:         "You are sending messages faster than we can take them. Messages you send in the next {minutes} min are not passed on; please wait and then send them again.",
	},
	"de": {
		Greeting:      "Hallo! Schreiben Sie Ihre Frage hier, unser Support-Team antwortet in diesem Chat.",
		Help:          "Schreiben Sie Ihre Nachricht, unser Support-Team antwortet hier. Sie können auch Fotos und Dokumente senden.\n/status zeigt Ihre Anfrage und ihren Status.\n/new beginnt eine neue Anfrage.\n/requests zeigt Ihre offenen Anfragen und lässt Sie wählen, an welche Sie schreiben.\n/forget löst die Verknüpfung dieses Chats mit Ihren Anfragen.\n/help zeigt diese Nachricht.",
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
		Acknowledged:  "Vielen Dank! Ihre Anfrage {key} ist eröffnet; unser Support-Team antwortet in diesem Chat.",
		OutOfHours:    "Vielen Dank für Ihre Nachricht. Unser Support-Team ist gerade nicht erreichbar und antwortet ab {opens}.",
		Flood:         "Sie senden Nachrichten schneller, als wir sie annehmen können. Was Sie in den nächsten {minutes} Min. senden, wird nicht weitergegeben; bitte warten Sie und senden Sie es dann erneut.",
	},
	"fr": {
		Greeting:      "Bonjour ! Écrivez votre question ici, notre équipe d'assistance vous répondra dans ce chat.",
		Help:          "Écrivez votre message, notre équipe d'assistance vous répondra ici. Vous pouvez aussi envoyer des photos et des documents.\n/status affiche votre demande et son état.\n/new commence une nouvelle demande.\n/requests liste vos demandes ouvertes et vous laisse choisir celle à laquelle vous écrivez.\n/forget supprime le lien entre ce chat et vos demandes.\n/help affiche ce message.",
		NewDone:       "Votre prochain message commencera une nouvelle demande.",
		Status:        "Votre demande {key} : {status}",
		NoRequest:     "Vous n'avez aucune demande ouverte. Écrivez un message pour en commencer une.",
		Resolved:      "Votre demande a été résolue. Si vous avez besoin d'autre chose, écrivez simplement un nouveau message.",
		TooLarge:      "Désolé, le fichier {name} est trop volumineux pour être transmis (20 Mo au maximum). Merci d'envoyer un fichier plus petit.",
		NotAccepted:   "Désolé, ce type de fichier n'est pas accepté ici. Merci de le décrire ou de l'envoyer comme document.",
		Failed:        "Désolé, votre message n'a pas pu être transmis. Merci de réessayer plus tard.",
		FileTooLarge:  "Notre équipe d'assistance a partagé un fichier ({name}) trop volumineux pour être envoyé ici.",
		Unreadable:    "Désolé, ce type de message ne peut pas être transmis à notre équipe d'assistance. Merci de l'envoyer sous forme de texte, de photo ou de document.",
		Corrected:     "Correction de notre réponse précédente :",
		Forgotten:     "C'est fait : ce chat n'est plus lié à vos demandes et nous n'en gardons rien ici. Vos demandes restent auprès de notre équipe d'assistance. Votre prochain message commencera une nouvelle demande.",
		ForgetInGroup: "Les demandes de ce groupe appartiennent à tous ses membres : /forget ne fonctionne que dans un chat privé avec ce bot. Pour faire oublier le chat de ce groupe, adressez-vous à notre équipe d'assistance.",
		Acknowledged:  "Merci ! Votre demande {key} est ouverte ; notre équipe d'assistance vous répondra dans ce chat.",
		OutOfHours:    "Merci pour votre message. Notre équipe d'assistance est absente pour le moment et vous répondra à partir du {opens}.",
		Flood:         "Vous envoyez des messages plus vite que nous ne pouvons les recevoir. Les messages envoyés dans les {minutes} prochaines minutes ne sont pas transmis ; merci de patienter puis de les renvoyer.",
	},
	"es": {
		Greeting:      "¡Hola! Escriba aquí su pregunta y nuestro equipo de soporte le responderá en este chat.",
		Help:          "Escriba su mensaje y nuestro equipo de soporte le responderá aquí. También puede enviar fotos y documentos.\n/status muestra su solicitud y su estado.\n/new inicia una nueva solicitud.\n/requests muestra sus solicitudes abiertas y le deja elegir a cuál escribe.\n/forget elimina el vínculo de este chat con sus solicitudes.\n/help muestra este mensaje.",
		NewDone:       "Su próximo mensaje iniciará una nueva solicitud.",
		Status:        "Su solicitud {key}: {status}",
		NoRequest:     "No tiene ninguna solicitud abierta. Escriba un mensaje para iniciar una.",
		Resolved:      "Su solicitud se ha resuelto. Si necesita algo más, simplemente escriba un nuevo mensaje.",
		TooLarge:      "Lo sentimos, el archivo {name} es demasiado grande para enviarlo (el límite es de 20 MB). Envíe un archivo más pequeño.",
		NotAccepted:   "Lo sentimos, aquí no se acepta este tipo de archivo. Descríbalo con palabras o envíelo como documento.",
		Failed:        "Lo sentimos, no pudimos transmitir su mensaje. Inténtelo de nuevo más tarde.",
		FileTooLarge:  "Nuestro equipo de soporte compartió un archivo ({name}) demasiado grande para enviarlo aquí.",
		Unreadable:    "Lo sentimos, este tipo de mensaje no se puede transmitir a nuestro equipo de soporte. Envíelo como texto, foto o documento.",
		Corrected:     "Corrección de nuestra respuesta anterior:",
		Forgotten:     "Hecho: este chat ya no está vinculado a sus solicitudes y aquí no guardamos nada de él. Sus solicitudes siguen con nuestro equipo de soporte. Su próximo mensaje iniciará una nueva solicitud.",
		ForgetInGroup: "Las solicitudes de este grupo pertenecen a todos sus miembros, por eso /forget solo funciona en un chat privado con este bot. Para que se olvide el chat de este grupo, consulte a nuestro equipo de soporte.",
		Acknowledged:  "¡Gracias! Su solicitud {key} está abierta; nuestro equipo de soporte le responderá en este chat.",
		OutOfHours:    "Gracias por su mensaje. Nuestro equipo de soporte no está disponible en este momento y le responderá a partir del {opens}.",
		Flood:         "Está enviando mensajes más rápido de lo que podemos recibirlos. Los mensajes que envíe en los próximos {minutes} min no se transmiten; espere y vuelva a enviarlos.",
	},
	"pt": {
		Greeting:      "Olá! Escreva a sua pergunta aqui e a nossa equipa de suporte responderá neste chat.",
		Help:          "Escreva a sua mensagem e a nossa equipa de suporte responderá aqui. Também pode enviar fotos e documentos.\n/status mostra o seu pedido e o respetivo estado.\n/new inicia um novo pedido.\n/requests mostra os seus pedidos abertos e permite escolher para qual escreve.\n/forget remove a ligação deste chat aos seus pedidos.\n/help mostra esta mensagem.",
		NewDone:       "A sua próxima mensagem iniciará um novo pedido.",
		Status:        "O seu pedido {key}: {status}",
		NoRequest:     "Não tem nenhum pedido aberto. Escreva uma mensagem para iniciar um.",
		Resolved:      "O seu pedido foi resolvido. Se precisar de mais alguma coisa, basta escrever uma nova mensagem.",
		TooLarge:      "Lamentamos, o ficheiro {name} é demasiado grande para ser encaminhado (o limite é 20 MB). Envie um ficheiro mais pequeno.",
		NotAccepted:   "Lamentamos, este tipo de ficheiro não é aceite aqui. Descreva-o por palavras ou envie-o como documento.",
		Failed:        "Lamentamos, não foi possível encaminhar a sua mensagem. Tente novamente mais tarde.",
		FileTooLarge:  "A nossa equipa de suporte partilhou um ficheiro ({name}) demasiado grande para ser enviado aqui.",
		Unreadable:    "Lamentamos, este tipo de mensagem não pode ser encaminhado para a nossa equipa de suporte. Envie-o como texto, foto ou documento.",
		Corrected:     "Correção da nossa resposta anterior:",
		Forgotten:     "Feito: este chat já não está ligado aos seus pedidos e não guardamos nada dele aqui. Os seus pedidos ficam com a nossa equipa de suporte. A sua próxima mensagem iniciará um novo pedido.",
		ForgetInGroup: "Os pedidos deste grupo pertencem a todos os seus membros, por isso /forget só funciona num chat privado com este bot. Para que o chat deste grupo seja esquecido, contacte a nossa equipa de suporte.",
		Acknowledged:  "Obrigado! O seu pedido {key} está aberto; a nossa equipa de suporte responderá neste chat.",
		OutOfHours:    "Obrigado pela sua mensagem. A nossa equipa de suporte está ausente neste momento e responderá a partir de {opens}.",
		Flood:         "Está a enviar mensagens mais depressa do que as conseguimos receber. As mensagens que enviar nos próximos {minutes} min não são encaminhadas; aguarde e envie-as novamente.",
	},
	"uk": {
		Greeting:      "Вітаємо! Напишіть тут своє запитання, і наша служба підтримки відповість у цьому чаті.",
		Help:          "Напишіть повідомлення, і наша служба підтримки відповість тут. Ви також можете надсилати фото й документи.\n/status показує ваш запит і його стан.\n/new починає новий запит.\n/requests показує ваші відкриті запити й дає змогу вибрати, до якого ви пишете.\n/forget видаляє зв'язок цього чату з вашими запитами.\n/help показує це повідомлення.",
		NewDone:       "Ваше наступне повідомлення почне новий запит.",
		Status:        "Ваш запит {key}: {status}",
		NoRequest:     "У вас немає відкритого запиту. Напишіть повідомлення, щоб почати його.",
		Resolved:      "Ваш запит вирішено. Якщо вам потрібно ще щось, просто напишіть нове повідомлення.",
		TooLarge:      "На жаль, файл {name} завеликий для передавання (не більше 20 МБ). Будь ласка, надішліть менший файл.",
		NotAccepted:   "На жаль, такий тип файлу тут не приймається. Опишіть його словами або надішліть як документ.",
		Failed:        "На жаль, ми не змогли передати ваше повідомлення. Спробуйте пізніше.",
		FileTooLarge:  "Наша служба підтримки надіслала файл ({name}), завеликий для цього чату.",
		Unreadable:    "На жаль, такий тип повідомлення не можна передати нашій службі підтримки. Надішліть його як текст, фото або документ.",
		Corrected:     "Виправлення нашої попередньої відповіді:",
		Forgotten:     "Готово: цей чат більше не пов'язаний з вашими запитами, і ми нічого з нього тут не зберігаємо. Ваші запити залишаються в нашої служби підтримки. Ваше наступне повідомлення почне новий запит.",
		ForgetInGroup: "Запити цієї групи належать усім її учасникам, тому /forget працює лише в приватному чаті з цим ботом. Щоб чат цієї групи було забуто, зверніться до нашої служби підтримки.",
		Acknowledged:  "Дякуємо! Ваш запит {key} відкрито; наша служба підтримки відповість у цьому чаті.",
		OutOfHours:    "Дякуємо за повідомлення. Наша служба підтримки зараз недоступна й відповість з {opens}.",
		Flood:         "Ви надсилаєте повідомлення швидше, ніж ми можемо їх прийняти. Повідомлення, надіслані протягом наступних {minutes} хв, не передаються; зачекайте й надішліть їх знову.",
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

// supportedLanguage maps a messenger's language tag to a language the bot
// speaks: its primary subtag ("pt-BR" is "pt", "de_AT" is "de"), or ""
// when the bot does not speak it.
func supportedLanguage(tag string) string {
	primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	primary, _, _ = strings.Cut(primary, "_")
	if _, ok := languages[primary]; ok {
		return primary
	}
	return ""
}

// textsIn are the texts in lang with the project's overrides: a text set
// in Config.Texts for lang, else the greeting and resolution message set
// on their own (Config.Greeting, Config.ResolutionMessage, which predate
// per-language texts and so hold for every language), else the built-in
// text. A language the bot does not speak falls back to the project's.
func (c *Config) textsIn(lang string) *texts {
	lang = supportedLanguage(lang)
	if lang == "" {
		lang = supportedLanguage(c.Language)
	}
	if lang == "" {
		lang = DefaultLanguage
	}
	t := *languages[lang]
	if c.Greeting != "" {
		t.Greeting = c.Greeting
	}
	if c.ResolutionMessage != "" {
		t.Resolved = c.ResolutionMessage
	}
	return overridden(&t, textNames, c.Texts[lang])
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
