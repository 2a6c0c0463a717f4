// Package whatsapp is a simulated WhatsApp Cloud API (Graph API) server for
// one business phone number: the calls the bridge makes, the signed webhook
// deliveries Meta makes, and a control API to drive it.
//
// # Wire format
//
// Meta's published specification (testdata/specs/whatsapp, version
// [DefaultVersion]) is the law: [Routes] lists every operation served, each
// one of the specification's, and only its version is served. Calls go to
// https://graph.facebook.com/<version>/... with "Authorization: Bearer
// <token>"; failures are {"error":{message, type, code, error_subcode,
// fbtrace_id}} with an HTTP status. A path the Graph API lacks is answered
// 400 with code 2500 ("Unknown path components"), a method an object does
// not support (or an object that does not exist) 400 with code 100 and
// subcode 33, and a message without a field the specification requires
// 400 with code 100 naming it. Served:
//
//	GET    /<v>/<phone_number_id>             the number's record
//	POST   /<v>/<phone_number_id>/messages    text (body <= 4096 characters), document, image (JPEG, PNG <= 5 MB), audio (AAC, AMR, MP3, M4A, OGG/Opus <= 16 MB, no caption) and video (MP4, 3GPP <= 16 MB) by uploaded media id (else 131053), interactive reply buttons and lists, and approved templates, to a phone number ("to") or a user id ("recipient")
//	POST   /<v>/<phone_number_id>/media       multipart upload -> {id}
//	GET    /<v>/<media_id>                    {url, mime_type, file_size, sha256, id}
//	GET    /whatsapp_business/attachments/?mid=<id>   the media (lookaside.fbsbx.com; the specification's /<v>/<Media-URL>)
//	POST   /<v>/<waba_id>/subscribed_apps     {override_callback_uri, verify_token}
//	DELETE /<v>/<waba_id>/subscribed_apps
//
// subscribed_apps verifies the callback URL before it answers: a GET with
// hub.mode=subscribe, hub.verify_token and hub.challenge that must answer 200
// with the challenge. Deliveries carry X-Hub-Signature-256: sha256=<hex
// HMAC-SHA256 of the body keyed with the app secret>.
//
// A message is accepted with its id; what became of it comes later in
// status webhooks, as the Cloud API reports it: sent then delivered, or
// failed with an error code. A free-form message reaches a customer only
// within 24 hours of their last message; later (or before any) it fails
// with code 131047, and a recipient set with /_sim/whatsapp/fail-delivery
// fails with the code given (131026, 130472 ...). A customer may hide their
// number: their deliveries carry only a business-scoped user id
// (from_user_id, contacts[].user_id), and replies address it.
//
// An interactive message is of type button or list (template.go). A button
// message has a body text of at most
// 1024 characters and 1 to 3 buttons {type reply, reply {id, title}}, ids
// of at most 256 characters without outer spaces, titles of 1 to 20
// characters, unique (interactive_button of the specification). POST
// /_sim/whatsapp/press delivers the customer's press of one: a message of
// type interactive with button_reply {id, title} and the pressed message in
// context; like any customer message it opens the 24-hour window. The same
// call chooses a row of a list message (list_reply {id, title,
// description}).
//
// A template message names one of Config.Templates (DefaultTemplates: the
// utility template support_reply_waiting in English and German) by name
// and language; it reaches the customer outside the 24-hour window, where
// free-form messages fail with 131047, and does not open the window. An
// unknown template is refused with 404 and code 132001, parameters that do
// not fill its placeholders with 400 and code 132000. GET
// /_sim/whatsapp/sent shows a template's name, language, parameters and
// filled body.
//
// Failed deliveries are not redelivered. The control API is described in
// package sim.
package whatsapp
