package channel

// Lister is implemented by channels whose messenger has a longer menu than
// its buttons (WhatsApp's interactive list message: up to 10 rows behind
// one button). A press of a row comes back as a Chosen event like a
// button's.
type Lister interface {
	// MaxListChoices is how many rows one list carries at most.
	MaxListChoices() int
	// SendList sends text (plain) with a button labelled button that opens
	// one row per choice, in order.
	SendList(chatID, text, button string, choices []Choice) error
}

// Template is a message template the messenger's owner approved in advance
// (WhatsApp's message templates): the only message a business may send
// outside the customer service window. Params fill the body's {{1}},
// {{2}}... in order; they hold no customer content.
type Template struct {
	Name     string
	Language string
	Params   []string
}

// Templater is implemented by channels whose messenger delivers approved
// templates where free-form messages are refused (outside WhatsApp's 24
// hours). SendTemplate returns the messenger's id of the message sent.
type Templater interface {
	SendTemplate(chatID string, t Template) (id string, err error)
}
