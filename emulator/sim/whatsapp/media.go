package whatsapp

import (
	"encoding/json"
	"mime"
	"strconv"
	"strings"
)

// Supported media types of sent media messages, as Meta's "Supported media
// types" lists them: a message of type image, audio or video must name an
// uploaded media object of one of its types and within its size; the
// Cloud API refuses any other with error 131053 (media upload error).
var (
	ImageTypes = map[string]bool{"image/jpeg": true, "image/png": true}
	AudioTypes = map[string]bool{"audio/aac": true, "audio/amr": true, "audio/mpeg": true, "audio/mp4": true, "audio/ogg": true}
	VideoTypes = map[string]bool{"video/mp4": true, "video/3gpp": true, "video/3gp": true}
	MaxMedia   = map[string]int{"image": 5 << 20, "audio": 16 << 20, "video": 16 << 20}
)

// CodeMediaUpload is the Cloud API's "Media upload error": a media object
// of an unsupported type or size.
const CodeMediaUpload = 131053

// sentMedia is the image, audio or video object of a sent message.
type sentMedia struct {
	ID      string  `json:"id"`
	Link    string  `json:"link"`
	Caption *string `json:"caption"`
}

// mediaMessage checks a sent message of type image, audio or video against
// the media it names; problem is the refusal's message, code its error
// code (0 for a plain invalid parameter).
func (s *Sim) mediaMessage(typ string, raw json.RawMessage, out *Sent) (code int, problem string) {
	var m sentMedia
	if json.Unmarshal(raw, &m) != nil {
		return 0, "(#100) Invalid parameter"
	}
	switch {
	case m.Link != "":
		return 0, "(#100) Invalid parameter: the simulator takes media by id only"
	case m.ID == "":
		return 0, "(#100) The parameter " + typ + "['id'] is required."
	case typ == "audio" && m.Caption != nil:
		return 0, "(#100) Param audio['caption'] is not valid: audio messages take no caption"
	}
	s.mu.Lock()
	md, ok := s.media[m.ID]
	s.mu.Unlock()
	if !ok {
		return 0, "(#100) Invalid parameter: unknown media id"
	}
	base, params, _ := mime.ParseMediaType(md.mime)
	allowed := map[string]map[string]bool{"image": ImageTypes, "audio": AudioTypes, "video": VideoTypes}[typ]
	switch {
	case !allowed[base]:
		return CodeMediaUpload, "(#131053) Media upload error: " + md.mime + " is not a supported " + typ + " type"
	case base == "audio/ogg" && params["codecs"] != "" && !strings.EqualFold(params["codecs"], "opus"):
		return CodeMediaUpload, "(#131053) Media upload error: OGG audio must be OPUS (base audio/ogg of another codec is not supported)"
	case len(md.data) > MaxMedia[typ]:
		return CodeMediaUpload, "(#131053) Media upload error: " + typ + " over " + strconv.Itoa(MaxMedia[typ]>>20) + " MB"
	}
	out.Filename, out.MimeType, out.Size = md.name, md.mime, len(md.data)
	if m.Caption != nil {
		out.Caption = *m.Caption
	}
	return 0, ""
}

// AudioMessage is a customer's audio: a voice note (Voice) or a file.
type AudioMessage struct {
	Voice    bool   `json:"voice"`
	MimeType string `json:"mime_type,omitempty"` // default audio/ogg; codecs=opus
	Size     int64  `json:"size,omitempty"`
}

// LocationMessage is a customer's shared location.
type LocationMessage struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// ContactMessage is a contact card the customer shares.
type ContactMessage struct {
	FormattedName string   `json:"formatted_name"`
	Phones        []string `json:"phones,omitempty"`
}

// ReactionMessage is a customer's reaction to a message of the chat
// (MessageID, "" for the last the business sent); an empty Emoji takes
// it back.
type ReactionMessage struct {
	MessageID string `json:"message_id,omitempty"`
	Emoji     string `json:"emoji"`
}

// customerExtraLocked fills msg with the audio, video, sticker, location,
// contacts, reaction or revoke m names; problem says what is wrong; s.mu is
// held. A reaction or revoke does not open the 24-hour window.
func (s *Sim) customerExtraLocked(chat string, m *CustomerMessage, msg map[string]any) (opensWindow bool, problem string) {
	n := 0
	for _, set := range []bool{m.Audio != nil, m.Video, m.Sticker, m.Location != nil, len(m.Contacts) > 0, m.Reaction != nil, m.Revoke != ""} {
		if set {
			n++
		}
	}
	if n > 1 || n == 1 && (m.Image || m.Document != nil || m.EditOf != "" || m.Unsupported != "") {
		return false, "audio, video, sticker, location, contacts, reaction and revoke are exclusive with each other and with image, document, edit_of and unsupported"
	}
	store := func(mt string, size int64, name string) string {
		mid := strconv.FormatInt(s.next(), 10)
		s.media[mid] = media{data: make([]byte, max(size, 1)), mime: mt, name: name}
		return mid
	}
	switch {
	case m.Audio != nil:
		mt := firstNonEmpty(m.Audio.MimeType, "audio/ogg; codecs=opus")
		msg["type"], msg["audio"] = "audio", map[string]any{"id": store(mt, max(m.Audio.Size, 2048), ""), "mime_type": mt, "sha256": "sim", "voice": m.Audio.Voice}
	case m.Video:
		msg["type"], msg["video"] = "video", map[string]any{"id": store("video/mp4", 65536, ""), "mime_type": "video/mp4", "sha256": "sim", "caption": m.Caption}
	case m.Sticker:
		msg["type"], msg["sticker"] = "sticker", map[string]any{"id": store("image/webp", 24576, ""), "mime_type": "image/webp", "sha256": "sim", "animated": false}
	case m.Location != nil:
		l := m.Location
		if l.Latitude < -90 || l.Latitude > 90 || l.Longitude < -180 || l.Longitude > 180 {
			return false, "location out of range"
		}
		loc := map[string]any{"latitude": l.Latitude, "longitude": l.Longitude}
		if l.Name != "" {
			loc["name"] = l.Name
		}
		if l.Address != "" {
			loc["address"] = l.Address
		}
		msg["type"], msg["location"] = "location", loc
	case len(m.Contacts) > 0:
		var cards []any
		for _, c := range m.Contacts {
			if c.FormattedName == "" {
				return false, "a contact needs formatted_name"
			}
			var phones []any
			for _, p := range c.Phones {
				phones = append(phones, map[string]any{"phone": p, "type": "CELL"})
			}
			cards = append(cards, map[string]any{"name": map[string]any{"formatted_name": c.FormattedName}, "phones": phones})
		}
		msg["type"], msg["contacts"] = "contacts", cards
	case m.Reaction != nil:
		target := m.Reaction.MessageID
		if target == "" {
			if sent := s.sent[chat]; len(sent) > 0 {
				target = sent[len(sent)-1].ID
			}
		}
		if !s.knownLocked(chat, target) {
			return false, "the chat has no message " + strconv.Quote(target) + " to react to"
		}
		msg["type"], msg["reaction"] = "reaction", map[string]any{"message_id": target, "emoji": m.Reaction.Emoji}
	case m.Revoke != "":
		if s.customer[m.Revoke] != chat {
			return false, "the customer sent no message " + strconv.Quote(m.Revoke) + " to delete"
		}
		msg["type"], msg["revoke"] = "revoke", map[string]any{"original_message_id": m.Revoke}
		return false, ""
	}
	return m.Reaction == nil, ""
}

// knownLocked reports whether id is a message of the chat: one the business
// sent or one the customer sent; s.mu is held.
func (s *Sim) knownLocked(chat, id string) bool {
	if id == "" {
		return false
	}
	if s.customer[id] == chat {
		return true
	}
	for _, m := range s.sent[chat] {
		if m.ID == id {
			return true
		}
	}
	return false
}

func (m *CustomerMessage) extra() bool {
	return m.Audio != nil || m.Video || m.Sticker || m.Location != nil || len(m.Contacts) > 0 || m.Reaction != nil || m.Revoke != ""
}
