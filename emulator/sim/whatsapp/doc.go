// Package whatsapp is a simulated WhatsApp Cloud API (Graph API) server for
// one business phone number: the calls the bridge makes, the signed webhook
// deliveries Meta makes, and a control API to drive it.
//
// # Wire format
//
// Calls go to https://graph.facebook.com/<version>/... with
// "Authorization: Bearer <token>"; failures are {"error":{message, type,
// code, error_subcode, fbtrace_id}} with an HTTP status. Served:
//
//	GET    /<v>/<phone_number_id>             the number's record
//	POST   /<v>/<phone_number_id>/messages    text (body <= 4096 characters) and document (uploaded media id)
//	POST   /<v>/<phone_number_id>/media       multipart upload -> {id}
//	GET    /<v>/<media_id>                    {url, mime_type, file_size, sha256, id}
//	GET    /whatsapp_business/attachments/?mid=<id>   the media (lookaside.fbsbx.com)
//	POST   /<v>/<waba_id>/subscribed_apps     {override_callback_uri, verify_token}
//	DELETE /<v>/<waba_id>/subscribed_apps
//
// subscribed_apps verifies the callback URL before it answers: a GET with
// hub.mode=subscribe, hub.verify_token and hub.challenge that must answer 200
// with the challenge. Deliveries carry X-Hub-Signature-256: sha256=<hex
// HMAC-SHA256 of the body keyed with the app secret>.
//
// A free-form message reaches a customer only within 24 hours of their last
// message; later (or before any) it fails with code 131047.
//
// Failed deliveries are not redelivered. The control API is described in
// package sim.
package whatsapp
