package bridge

// Per-project overrides of every text the bot says to customers (issue
// 18, item 7). The main texts (texts.go) and the side tables of later
// features (identity's /link texts, the several-requests texts, the
// first-message menu's, the survey's) are all overridden the same way:
// Config.Texts[lang][name], validated against allTextNames.

// textOf is one text of a table T an admin may override: its name in
// Config.Texts, where it lives in T, the placeholders it may use, and, for
// a button's label, its longest length (WhatsApp's 20 characters).
type textOf[T any] struct {
	name         string
	field        func(*T) *string
	placeholders []string
	max          int
}

// overridable is a text's name, placeholders and longest length, whatever
// its table.
type overridable struct {
	name         string
	placeholders []string
	max          int
}

func namesOf[T any](list []textOf[T]) []overridable {
	out := make([]overridable, len(list))
	for i, n := range list {
		out[i] = overridable{n.name, n.placeholders, n.max}
	}
	return out
}

// allTextNames lists every overridable text, the main texts first.
func allTextNames() []overridable {
	var out []overridable
	out = append(out, namesOf(textNames)...)
	out = append(out, namesOf(linkTextNames)...)
	out = append(out, namesOf(requestTextNames)...)
	out = append(out, namesOf(routeTextNames)...)
	out = append(out, namesOf(surveyTextNames)...)
	return out
}

// overridden is a copy of base with the overrides over (name to text) of
// the texts names lists.
func overridden[T any](base *T, names []textOf[T], over map[string]string) *T {
	t := *base
	for _, n := range names {
		if s := over[n.name]; s != "" {
			*n.field(&t) = s
		}
	}
	return &t
}

// textLanguage is the language of a side table to use: the customer's
// (lang) where the table has it, else the project's, else English.
func textLanguage[T any](c *Config, table map[string]*T, lang string) string {
	for _, l := range []string{supportedLanguage(lang), supportedLanguage(c.Language)} {
		if _, ok := table[l]; ok {
			return l
		}
	}
	return DefaultLanguage
}

// sideTexts are a side table's texts in lang with the project's overrides.
func sideTexts[T any](c *Config, table map[string]*T, names []textOf[T], lang string) *T {
	l := textLanguage(c, table, lang)
	return overridden(table[l], names, c.Texts[l])
}

// buttonLabel is WhatsApp's limit on a reply button's or list button's
// title (Meta's business-messaging-api_v23.0.yaml).
const buttonLabel = 20

var linkTextNames = []textOf[linkTexts]{
	{"linkUsage", func(t *linkTexts) *string { return &t.Usage }, nil, 0},
	{"linkSent", func(t *linkTexts) *string { return &t.Sent }, []string{"{email}"}, 0},
	{"linkSummary", func(t *linkTexts) *string { return &t.Summary }, nil, 255},
	{"linkDescription", func(t *linkTexts) *string { return &t.Description }, nil, 0},
	{"linkCode", func(t *linkTexts) *string { return &t.Code }, []string{"{command}"}, 0},
	{"linkAgain", func(t *linkTexts) *string { return &t.Again }, []string{"{email}", "{minutes}"}, 0},
	{"linkTooMany", func(t *linkTexts) *string { return &t.TooMany }, []string{"{minutes}"}, 0},
	{"linkWrong", func(t *linkTexts) *string { return &t.Wrong }, nil, 0},
	{"linkLinked", func(t *linkTexts) *string { return &t.Linked }, []string{"{email}"}, 0},
	{"linkUnlinked", func(t *linkTexts) *string { return &t.Unlinked }, nil, 0},
	{"linkNotLinked", func(t *linkTexts) *string { return &t.NotLinked }, nil, 0},
	{"linkInGroup", func(t *linkTexts) *string { return &t.InGroup }, nil, 0},
	{"linkFirst", func(t *linkTexts) *string { return &t.First }, nil, 0},
	{"linkLost", func(t *linkTexts) *string { return &t.Lost }, nil, 0},
	{"helpLink", func(t *linkTexts) *string { return &t.Help }, nil, 0},
}

var requestTextNames = []textOf[requestTexts]{
	{"requestsPrompt", func(t *requestTexts) *string { return &t.Prompt }, nil, 0},
	{"requestsPromptCurrent", func(t *requestTexts) *string { return &t.PromptCurrent }, []string{"{key}"}, 0},
	{"requestsCurrent", func(t *requestTexts) *string { return &t.Current }, []string{"{key}"}, 0},
	{"requestsNew", func(t *requestTexts) *string { return &t.New }, nil, buttonLabel},
	{"requestsChosen", func(t *requestTexts) *string { return &t.Chosen }, []string{"{key}"}, 0},
	{"requestsGone", func(t *requestTexts) *string { return &t.Gone }, nil, 0},
	{"requestsList", func(t *requestTexts) *string { return &t.ListText }, []string{"{keys}"}, 0},
}

var routeTextNames = []textOf[routeTexts]{
	{"menuPrompt", func(t *routeTexts) *string { return &t.Prompt }, nil, 0},
	{"menuButton", func(t *routeTexts) *string { return &t.Button }, nil, buttonLabel},
	{"menuChosen", func(t *routeTexts) *string { return &t.Chosen }, []string{"{type}"}, 0},
	{"menuClosed", func(t *routeTexts) *string { return &t.Closed }, nil, 0},
}

var surveyTextNames = []textOf[surveyTexts]{
	{"surveyPrompt", func(t *surveyTexts) *string { return &t.Prompt }, nil, 0},
	{"surveyThanks", func(t *surveyTexts) *string { return &t.Thanks }, []string{"{minutes}"}, 0},
	{"surveyCommented", func(t *surveyTexts) *string { return &t.Commented }, nil, 0},
	{"surveyClosed", func(t *surveyTexts) *string { return &t.Closed }, nil, 0},
	{"surveyAlready", func(t *surveyTexts) *string { return &t.Already }, nil, 0},
	{"surveyLow", func(t *surveyTexts) *string { return &t.Low }, nil, buttonLabel},
	{"surveyMid", func(t *surveyTexts) *string { return &t.Mid }, nil, buttonLabel},
	{"surveyHigh", func(t *surveyTexts) *string { return &t.High }, nil, buttonLabel},
}

// help answers /help: the help text, and /link and /unlink where the
// project links chats to customers (/new and /requests are always on).
func (w *inbound) help() string {
	t := w.texts().Help
	if w.cfg.Identity != IdentityOff && !w.job.Event.Group {
		t += "\n" + w.cfg.linkTextsIn(w.lang()).Help
	}
	return t
}
