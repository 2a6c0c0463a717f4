package bridge

import (
	"errors"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
)

// linkTTL is how long a download link handed to a messenger stays usable:
// Viber fetches it at once; the rest covers its own retries.
const linkTTL = 15 * time.Minute

// sendLink sends an agent's attachment by a single-use download link when
// the channel takes files by URL (channel.LinkSender) and the host hands out
// links (sdk.AttachmentLinker); the file's bytes never pass through the
// module. sent is false when either is missing, and the caller sends the
// file itself. A file the messenger refuses as too large gets the notice.
func (o *outbound) sendLink(a jira.Attachment) (sent bool, err error) {
	ls, ok := o.ch.(channel.LinkSender)
	if !ok {
		return false, nil
	}
	linker, ok := o.env.Jira.(sdk.AttachmentLinker)
	if !ok {
		return false, nil
	}
	link, err := linker.AttachmentLink(a.ID, linkTTL)
	if errors.Is(err, sdk.ErrUnavailable) {
		return false, nil // this host has no download links
	}
	if err != nil {
		return true, err
	}
	err = o.send(func(chat string) error {
		return ls.SendFileURL(chat, channel.FileLink{URL: link, Name: a.Filename, MIME: a.MimeType, Size: a.Size})
	})
	if errors.Is(err, channel.ErrTooLarge) {
		return true, o.fileNotice(a.Filename)
	}
	if err == nil {
		o.sent++
		o.log.Info("outbound: file sent by download link", "attachment", a.ID)
	}
	return true, err
}
