package bridge

// linkTexts are the bot's words about linking a chat to a JSM customer
// (identity.go), in one language; a project overrides them by the names in
// linkTextNames (textoverrides.go).
type linkTexts struct {
	// Usage answers /link without an address (or with a malformed one).
	Usage string
	// Sent answers /link with an address, whether or not a code went out.
	Sent string // {email}
	// Summary and Description are the request that carries the code;
	// Code is its public comment, which JSM emails to the customer.
	Summary     string
	Description string
	Code        string // {command}
	// Again answers /link for an address this chat asked a code for less
	// than a quarter hour ago; TooMany, for a new address once it asked
	// for three in the hour (linklimit.go). Neither sends a code.
	Again   string // {email} {minutes}
	TooMany string // {minutes}
	// Wrong answers a code that does not link (wrong, expired, other chat).
	Wrong     string
	Linked    string // {email}
	Unlinked  string
	NotLinked string
	InGroup   string
	// First answers a message that would open a request from an unlinked
	// chat where the project requires a link.
	First string
	// Lost tells the customer JSM no longer takes requests for the linked
	// customer, and the chat is unlinked.
	Lost string
	// Help is added to /help's answer where the project links chats.
	Help string
}

var linkLanguages = map[string]*linkTexts{
	"en": {
		Usage:       "To link this chat to your support account, send /link followed by your email address, e.g. /link anna@example.com. /unlink removes the link.",
		Sent:        "If {email} can be linked, the service desk has emailed it a code. Send the line from that email here within 15 minutes.",
		Summary:     "Confirm the link of a chat to your support account",
		Description: "Someone asked to link a chat to your support account. The code is in the next comment. If it was not you, ignore it: nothing is linked without the code.",
		Code:        "To link your chat, send this line to the bot within 15 minutes:\n\n{command}\n\nIf you did not ask for this, ignore it.",
		Again:       "A code for {email} was asked for less than 15 minutes ago: if the address can be linked, the email is on its way (look in its spam folder too). You can ask again in {minutes} minutes.",
		TooMany:     "This chat has asked for codes for three addresses in the last hour, which is as many as we send. Please try again in {minutes} minutes.",
		Wrong:       "That code does not link this chat: it may be mistyped, expired (after 15 to 30 minutes) or meant for another chat. Send /link with your email address to get a new one.",
		Linked:      "This chat is now linked to {email}: your requests are raised in your name. /unlink removes the link.",
		Unlinked:    "This chat is no longer linked to your support account.",
		NotLinked:   "This chat is not linked to a support account.",
		InGroup:     "A group chat cannot be linked to one person's support account. Write to the bot in a private chat.",
		First:       "Before your first request, link this chat to your support account: send /link followed by your email address, e.g. /link anna@example.com. Your message was not passed on; send it again once linked.",
		Lost:        "Your support account could no longer be used for this chat, so the link was removed. Your message reached the team; send /link to link again.",
		Help:        "/link followed by your email address links this chat to your support account; /unlink removes the link.",
	},
	"de": {
		Usage:       "Um diesen Chat mit Ihrem Support-Konto zu verknüpfen, senden Sie /link und Ihre E-Mail-Adresse, z. B. /link anna@example.com. /unlink hebt die Verknüpfung auf.",
		Sent:        "Falls {email} verknüpft werden kann, hat der Service-Desk einen Code an diese Adresse geschickt. Senden Sie die Zeile aus dieser E-Mail innerhalb von 15 Minuten hierher.",
		Summary:     "Verknüpfung eines Chats mit Ihrem Support-Konto bestätigen",
		Description: "Jemand möchte einen Chat mit Ihrem Support-Konto verknüpfen. Der Code steht im nächsten Kommentar. Falls Sie es nicht waren, ignorieren Sie ihn: Ohne den Code wird nichts verknüpft.",
		Code:        "Um Ihren Chat zu verknüpfen, senden Sie dem Bot innerhalb von 15 Minuten diese Zeile:\n\n{command}\n\nFalls Sie das nicht angefordert haben, ignorieren Sie diese Nachricht.",
		Again:       "Für {email} wurde vor weniger als 15 Minuten ein Code angefordert: Falls die Adresse verknüpft werden kann, ist die E-Mail unterwegs (sehen Sie auch im Spam-Ordner nach). Sie können in {minutes} Minuten erneut anfragen.",
		TooMany:     "Dieser Chat hat in der letzten Stunde Codes für drei Adressen angefordert, mehr senden wir nicht. Bitte versuchen Sie es in {minutes} Minuten erneut.",
		Wrong:       "Dieser Code verknüpft diesen Chat nicht: Er ist vielleicht vertippt, abgelaufen (nach 15 bis 30 Minuten) oder für einen anderen Chat. Senden Sie /link mit Ihrer E-Mail-Adresse für einen neuen.",
		Linked:      "Dieser Chat ist jetzt mit {email} verknüpft: Ihre Anfragen laufen unter Ihrem Namen. /unlink hebt die Verknüpfung auf.",
		Unlinked:    "Dieser Chat ist nicht mehr mit Ihrem Support-Konto verknüpft.",
		NotLinked:   "Dieser Chat ist mit keinem Support-Konto verknüpft.",
		InGroup:     "Ein Gruppenchat kann nicht mit dem Support-Konto einer Person verknüpft werden. Schreiben Sie dem Bot in einem privaten Chat.",
		First:       "Verknüpfen Sie vor Ihrer ersten Anfrage diesen Chat mit Ihrem Support-Konto: Senden Sie /link und Ihre E-Mail-Adresse, z. B. /link anna@example.com. Ihre Nachricht wurde nicht weitergegeben; senden Sie sie nach der Verknüpfung erneut.",
		Lost:        "Ihr Support-Konto kann für diesen Chat nicht mehr verwendet werden; die Verknüpfung wurde aufgehoben. Ihre Nachricht hat das Team erreicht; senden Sie /link, um neu zu verknüpfen.",
		Help:        "/link gefolgt von Ihrer E-Mail-Adresse verknüpft diesen Chat mit Ihrem Support-Konto; /unlink hebt die Verknüpfung auf.",
	},
	"fr": {
		Usage:       "Pour lier ce chat à votre compte d'assistance, envoyez /link suivi de votre adresse e-mail, par ex. /link anna@example.com. /unlink supprime le lien.",
		Sent:        "Si {email} peut être lié, le centre d'assistance lui a envoyé un code par e-mail. Envoyez ici la ligne de cet e-mail dans les 15 minutes.",
		Summary:     "Confirmer le lien d'un chat à votre compte d'assistance",
		Description: "Quelqu'un a demandé à lier un chat à votre compte d'assistance. Le code figure dans le commentaire suivant. Si ce n'était pas vous, ignorez-le : rien n'est lié sans le code.",
		Code:        "Pour lier votre chat, envoyez cette ligne au bot dans les 15 minutes :\n\n{command}\n\nSi vous n'avez rien demandé, ignorez ce message.",
		Again:       "Un code pour {email} a été demandé il y a moins de 15 minutes : si l'adresse peut être liée, l'e-mail est en route (regardez aussi dans les courriers indésirables). Vous pourrez redemander dans {minutes} minutes.",
		TooMany:     "Ce chat a demandé des codes pour trois adresses au cours de la dernière heure, le maximum que nous envoyons. Veuillez réessayer dans {minutes} minutes.",
		Wrong:       "Ce code ne lie pas ce chat : il est peut-être mal saisi, expiré (après 15 à 30 minutes) ou destiné à un autre chat. Envoyez /link avec votre adresse e-mail pour en obtenir un nouveau.",
		Linked:      "Ce chat est maintenant lié à {email} : vos demandes sont créées à votre nom. /unlink supprime le lien.",
		Unlinked:    "Ce chat n'est plus lié à votre compte d'assistance.",
		NotLinked:   "Ce chat n'est lié à aucun compte d'assistance.",
		InGroup:     "Un chat de groupe ne peut pas être lié au compte d'assistance d'une personne. Écrivez au bot dans un chat privé.",
		First:       "Avant votre première demande, liez ce chat à votre compte d'assistance : envoyez /link suivi de votre adresse e-mail, par ex. /link anna@example.com. Votre message n'a pas été transmis ; renvoyez-le une fois lié.",
		Lost:        "Votre compte d'assistance ne peut plus être utilisé pour ce chat ; le lien a été supprimé. Votre message est parvenu à l'équipe ; envoyez /link pour le lier à nouveau.",
		Help:        "/link suivi de votre adresse e-mail lie ce chat à votre compte d'assistance ; /unlink supprime ce lien.",
	},
	"es": {
		Usage:       "Para vincular este chat a su cuenta de soporte, envíe /link seguido de su correo electrónico, p. ej. /link anna@example.com. /unlink elimina el vínculo.",
		Sent:        "Si {email} se puede vincular, el centro de soporte le ha enviado un código por correo. Envíe aquí la línea de ese correo en un plazo de 15 minutos.",
		Summary:     "Confirme el vínculo de un chat con su cuenta de soporte",
		Description: "Alguien ha pedido vincular un chat con su cuenta de soporte. El código está en el siguiente comentario. Si no fue usted, ignórelo: nada se vincula sin el código.",
		Code:        "Para vincular su chat, envíe esta línea al bot en un plazo de 15 minutos:\n\n{command}\n\nSi no lo ha pedido, ignore este mensaje.",
		Again:       "Se pidió un código para {email} hace menos de 15 minutos: si la dirección se puede vincular, el correo está en camino (mire también en la carpeta de spam). Puede volver a pedirlo en {minutes} minutos.",
		TooMany:     "Este chat ha pedido códigos para tres direcciones en la última hora, el máximo que enviamos. Vuelva a intentarlo en {minutes} minutos.",
		Wrong:       "Ese código no vincula este chat: puede estar mal escrito, caducado (tras 15 a 30 minutos) o ser de otro chat. Envíe /link con su correo para recibir uno nuevo.",
		Linked:      "Este chat está vinculado a {email}: sus solicitudes se crean a su nombre. /unlink elimina el vínculo.",
		Unlinked:    "Este chat ya no está vinculado a su cuenta de soporte.",
		NotLinked:   "Este chat no está vinculado a ninguna cuenta de soporte.",
		InGroup:     "Un chat de grupo no se puede vincular a la cuenta de soporte de una persona. Escriba al bot en un chat privado.",
		First:       "Antes de su primera solicitud, vincule este chat a su cuenta de soporte: envíe /link seguido de su correo, p. ej. /link anna@example.com. Su mensaje no se ha transmitido; envíelo de nuevo una vez vinculado.",
		Lost:        "Su cuenta de soporte ya no se puede usar para este chat y se ha eliminado el vínculo. Su mensaje llegó al equipo; envíe /link para volver a vincularlo.",
		Help:        "/link seguido de su dirección de correo vincula este chat a su cuenta de soporte; /unlink elimina el vínculo.",
	},
	"pt": {
		Usage:       "Para associar este chat à sua conta de suporte, envie /link seguido do seu e-mail, por ex. /link anna@example.com. /unlink remove a associação.",
		Sent:        "Se {email} puder ser associado, o centro de suporte enviou-lhe um código por e-mail. Envie aqui a linha desse e-mail no prazo de 15 minutos.",
		Summary:     "Confirme a associação de um chat à sua conta de suporte",
		Description: "Alguém pediu para associar um chat à sua conta de suporte. O código está no próximo comentário. Se não foi você, ignore-o: nada é associado sem o código.",
		Code:        "Para associar o seu chat, envie esta linha ao bot no prazo de 15 minutos:\n\n{command}\n\nSe não fez este pedido, ignore esta mensagem.",
		Again:       "Foi pedido um código para {email} há menos de 15 minutos: se o endereço puder ser associado, o e-mail está a caminho (veja também a pasta de spam). Pode pedir de novo dentro de {minutes} minutos.",
		TooMany:     "Este chat pediu códigos para três endereços na última hora, o máximo que enviamos. Tente de novo dentro de {minutes} minutos.",
		Wrong:       "Esse código não associa este chat: pode estar mal escrito, expirado (após 15 a 30 minutos) ou ser de outro chat. Envie /link com o seu e-mail para receber um novo.",
		Linked:      "Este chat está agora associado a {email}: os seus pedidos são criados em seu nome. /unlink remove a associação.",
		Unlinked:    "Este chat já não está associado à sua conta de suporte.",
		NotLinked:   "Este chat não está associado a nenhuma conta de suporte.",
		InGroup:     "Um chat de grupo não pode ser associado à conta de suporte de uma pessoa. Escreva ao bot num chat privado.",
		First:       "Antes do seu primeiro pedido, associe este chat à sua conta de suporte: envie /link seguido do seu e-mail, por ex. /link anna@example.com. A sua mensagem não foi transmitida; envie-a de novo depois de associar.",
		Lost:        "A sua conta de suporte já não pode ser usada neste chat e a associação foi removida. A sua mensagem chegou à equipa; envie /link para associar de novo.",
		Help:        "/link seguido do seu endereço de e-mail liga este chat à sua conta de suporte; /unlink remove a ligação.",
	},
	"uk": {
		Usage:       "Щоб пов'язати цей чат зі своїм обліковим записом підтримки, надішліть /link і свою адресу e-mail, напр. /link anna@example.com. /unlink скасовує зв'язок.",
		Sent:        "Якщо {email} можна пов'язати, служба підтримки надіслала на цю адресу код. Надішліть сюди рядок із цього листа протягом 15 хвилин.",
		Summary:     "Підтвердьте зв'язок чату з вашим обліковим записом підтримки",
		Description: "Хтось попросив пов'язати чат із вашим обліковим записом підтримки. Код — у наступному коментарі. Якщо це були не ви, проігноруйте його: без коду нічого не пов'язується.",
		Code:        "Щоб пов'язати свій чат, надішліть боту цей рядок протягом 15 хвилин:\n\n{command}\n\nЯкщо ви цього не просили, проігноруйте це повідомлення.",
		Again:       "Код для {email} запитували менше ніж 15 хвилин тому: якщо адресу можна пов'язати, лист уже в дорозі (перевірте й папку «Спам»). Запитати знову можна через {minutes} хв.",
		TooMany:     "Цей чат за останню годину запитав коди для трьох адрес — це найбільше, що ми надсилаємо. Спробуйте знову через {minutes} хв.",
		Wrong:       "Цей код не пов'язує цей чат: можливо, він набраний з помилкою, застарів (через 15–30 хвилин) або призначений для іншого чату. Надішліть /link зі своєю адресою, щоб отримати новий.",
		Linked:      "Цей чат тепер пов'язаний з {email}: ваші запити створюються від вашого імені. /unlink скасовує зв'язок.",
		Unlinked:    "Цей чат більше не пов'язаний з вашим обліковим записом підтримки.",
		NotLinked:   "Цей чат не пов'язаний з жодним обліковим записом підтримки.",
		InGroup:     "Груповий чат не можна пов'язати з обліковим записом однієї людини. Напишіть боту в приватному чаті.",
		First:       "Перед першим запитом пов'яжіть цей чат зі своїм обліковим записом підтримки: надішліть /link і свою адресу e-mail, напр. /link anna@example.com. Ваше повідомлення не передано; надішліть його знову після зв'язування.",
		Lost:        "Ваш обліковий запис підтримки більше не можна використовувати для цього чату, тому зв'язок скасовано. Ваше повідомлення дійшло до команди; надішліть /link, щоб пов'язати знову.",
		Help:        "/link і ваша адреса e-mail пов'язують цей чат з вашим обліковим записом підтримки; /unlink скасовує зв'язок.",
	},
}

// linkTextsIn are the link texts in the customer's language (lang), else
// the project's, else English.
func (c *Config) linkTextsIn(lang string) *linkTexts {
	return sideTexts(c, linkLanguages, linkTextNames, lang)
}
