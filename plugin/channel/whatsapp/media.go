package whatsapp

import (
	"github.com/chatbridge/chatbridge/plugin/channel"
)

// Media limits of the Cloud API's supported media types: images (JPEG,
// PNG) up to 5 MB, audio (AAC, AMR, MP3, M4A, OGG/Opus) and video (MP4,
// 3GPP) up to 16 MB. A file outside them goes as a document (up to 100 MB).
const (
	MaxImage = 5 << 20
	MaxAudio = 16 << 20
	MaxVideo = 16 << 20
)

// ImageTypes, AudioTypes and VideoTypes are the MIME types each message
// type takes.
var (
	ImageTypes = map[string]bool{"image/jpeg": true, "image/png": true}
	AudioTypes = map[string]bool{"audio/aac": true, "audio/amr": true, "audio/mpeg": true, "audio/mp4": true, "audio/ogg": true}
	VideoTypes = map[string]bool{"video/mp4": true, "video/3gpp": true, "video/3gp": true}
)

// mediaType is the message type an agent's file goes as: "image", "audio"
// (an OGG/Opus file plays as a voice message), "video" or "document".
func mediaType(mime string, size int64) string {
	m := channel.BaseMIME(mime)
	switch {
	case ImageTypes[m] && size <= MaxImage:
		return "image"
	case AudioTypes[m] && size <= MaxAudio:
		return "audio"
	case VideoTypes[m] && size <= MaxVideo:
		return "video"
	}
	return "document"
}

// reactionOrRevoke turns a reaction message into a Reaction event (an
// empty emoji: the customer took their reaction back) and a revoke
// message into a Deleted event, both naming the message they concern.
func reactionOrRevoke(ev channel.Inbound, m *Message) (channel.Inbound, bool) {
	switch {
	case m.Type == "reaction" && m.Reaction != nil && m.Reaction.MessageID != "":
		ev.Kind, ev.MessageID, ev.Reaction = channel.Reaction, m.Reaction.MessageID, truncate(m.Reaction.Emoji, 8)
	case m.Type == "revoke" && m.Revoke != nil && m.Revoke.OriginalMessageID != "":
		ev.Kind, ev.MessageID = channel.Deleted, m.Revoke.OriginalMessageID
	default:
		return channel.Inbound{}, false
	}
	return ev, true
}
