// Package sim holds the local simulators of the services the bridge talks
// to — package telegram (the Telegram Bot API) and package jira (Jira Cloud
// with Jira Service Management) — and Control, which mounts their control
// APIs on one admin mux. The simulators speak the real wire formats; only
// the base URL and TLS root differ (dev mode routes api.telegram.org and
// <site>.atlassian.net to them).
//
// # Use
//
//	tg := telegram.New(telegram.Config{Client: devClient})
//	jr := jira.New(jira.Config{Client: devClient, WebhookURL: hookURL, WebhookSecret: secret})
//	defer tg.Close(); defer jr.Close()
//	serveTLS(tg.API())                       // as api.telegram.org
//	serveTLS(jr.API())                       // as <site>.atlassian.net
//	adminMux.Handle("/_sim/", sim.Control(tg, jr))
//
// Each simulator's Control() also serves its own paths and /_sim/fail alone
// (refusing rules for the other service), for callers that mount one.
//
// # Control API
//
// JSON in and out. Request bodies are decoded strictly: unknown fields are
// refused with 400. Errors are {"error": "..."} with 400 (bad input), 404
// (unknown request, chat or bot) or 409. This contract is stable: external
// tools rely on it; fields may be added, never renamed or removed.
//
// Telegram (every call takes an optional "bot_id" — a JSON field, or a query
// parameter for GET — to pick a bot when several tokens are configured; the
// default is the first):
//
//	POST /_sim/telegram/send
//	     {"chat_id":int64, "text":string,
//	      optional "first_name","last_name","username","language_code":string,
//	      "photo":true, "document":{"file_name":string,"size":int64,"mime_type":string},
//	      "reply_to_message_id":int64, "edit_of":message_id, "media_group_id":string,
//	      "voice":{"duration":int,"size":int64}, "video_note":{"duration":int,"size":int64},
//	      "location":{"latitude","longitude"}, "contact":{"phone_number","first_name","last_name"},
//	      "sticker":{"emoji":string},
//	      "message_thread_id":int64 (a topic the bot created; Config.Topics)}
//	     A user's message (caption, with a photo, document or voice note;
//	     the media fields are exclusive) becomes a real
//	     Update (edit_of: an edited_message) delivered to the registered webhook
//	     with X-Telegram-Bot-Api-Secret-Token.
//	     -> {"update_id":int64, "message_id":int64, "status":int,
//	         "pending":bool, "error":string, "filtered":bool}
//	     status is the webhook's HTTP status for the first delivery attempt,
//	     made synchronously; retries continue in the background on failure.
//	     status is 0 with "pending":true when no attempt was made yet (no
//	     webhook set, or an earlier update of the chat is undelivered: chats
//	     are delivered in order), and 0 with "error" when the attempt got no
//	     HTTP answer. "filtered":true: allowed_updates excludes it (no update).
//	     A user who blocked the bot and writes again unblocks it first
//	     (a my_chat_member update precedes the message).
//	GET  /_sim/telegram/sent?chat_id=N
//	     -> [{"method":"sendMessage"|"sendPhoto"|"sendDocument"|"sendVoice"|"sendVideo"|"sendChatAction"|
//	          "answerCallbackQuery",
//	          "text":string, "parse_mode":string, "message_id":int64, "date":int64,
//	          "plain":string, "entities":[...], "file_name":string, "file_size":int64,
//	          "mime_type":string, "reply_to_message_id":int64, "action":string,
//	          "reply_markup":{"inline_keyboard":[[{"text","callback_data",...}]]}}]
//	     What the bot sent to the chat, oldest first; text is the text or
//	     caption as sent (markup included), plain the text after parsing;
//	     reply_markup the inline keyboard under the message. An
//	     answerCallbackQuery entry is the bot's answer to a press (its text).
//	POST /_sim/telegram/press {"bot_id":int64, "chat_id":int64,
//	                           "message_id":int64, "data":string}
//	     The user presses the callback button whose callback_data is data
//	     under the bot's message: a callback_query update is delivered, and
//	     its id is good for one answerCallbackQuery. 400 when the message
//	     shows no such button. -> as /send (message_id the message pressed).
//	POST /_sim/telegram/react {"bot_id":int64, "chat_id":int64,
//	                           "message_id":int64, "emoji":string}
//	     The user sets emoji (one of Telegram's reaction emoji; "" takes it
//	     back) as their reaction to a message of the chat: a
//	     message_reaction update, made only for a bot that lists
//	     message_reaction in allowed_updates ("filtered" otherwise). -> as /send
//	POST /_sim/telegram/forbid-voice {"chat_id":int64, "forbid":bool}
//	     The user forbids (or allows) voice messages in their privacy
//	     settings: sendVoice to them answers 400 VOICE_MESSAGES_FORBIDDEN.
//	GET  /_sim/telegram/webhook
//	     -> {"url":string, "secret_token":string, "max_connections":int,
//	         "allowed_updates":[string], "pending_update_count":int,
//	         "last_error_message":string}   as registered by setWebhook
//	POST /_sim/telegram/block {"chat_id":int64, "unblock":bool}
//	     The user blocks (or unblocks) the bot: send* to the chat answers 403
//	     "Forbidden: bot was blocked by the user" and a my_chat_member update is
//	     delivered. -> as /send, without message_id; {} when nothing changed.
//	GET  /_sim/telegram/stats
//	     -> {"requests":{method:int}, "early_retries":int, "rate_limited":int,
//	         "delivered":int, "dropped":int}
//	     early_retries counts calls made before the retry_after of an earlier
//	     429 to the same chat (or method, for calls without a chat) passed:
//	     a well-behaved client keeps it at 0.
//
// Jira:
//
//	GET  /_sim/jira/requests
//	     -> [{"key","id","summary","description","status","status_category",
//	          "request_type_id","reporter_account_id","participant_account_ids",
//	          "comments":[{"id","body","public":bool,"author_account_id"}],
//	          "attachments":[{"id","filename","size","mime_type"}],
//	          "feedback":{"rating":1..5,"comment":string}   (when given),
//	          "properties":{"chatbridge.*":json}}]          (the bridge's marks)
//	POST /_sim/jira/requests/{key}/comment
//	     {"body":string, "public":bool, optional "adf":true,
//	      "internal_shape":"visibility"|"property", "bare":true,
//	      "author":accountId}
//	     An agent's comment ("public" absent means internal), or with
//	     "author" the public comment of a customer of the request (its
//	     reporter or a participant; anyone else is 400). Fires
//	     comment_created and jira:issue_updated (issue_commented), signed,
//	     then the status change of JSM's "Transition on comment" rule, if
//	     any (package jira, automation.go).
//	     Internal comments carry jsdPublic:false; with internal_shape they
//	     carry instead only a visibility restriction, or nothing (the
//	     sd.public.comment property, readable through REST, says internal);
//	     "bare" leaves jsdPublic out of any comment's webhooks likewise.
//	     "adf":true fires the body as ADF instead of wiki markup.
//	     -> {"id":string, "webhooks":[{"event","status":int,"error"}]}
//	PUT  /_sim/jira/requests/{key}/comment/{id} {"body":string}
//	     Edits a comment; fires comment_updated. -> as above
//	POST /_sim/jira/requests/{key}/transition {"status":"Done"|"In Progress"|...}
//	     Fires jira:issue_updated with changelog items (status, resolution).
//	     -> {"from","to","webhooks":[...]}; 409 when already in that status
//	POST /_sim/jira/requests/{key}/attachment
//	     {"filename":string, "size":int64, "public":bool, optional
//	      "mime_type", "comment", "content":base64 (the file; size is its length)}
//	     An agent attaches a file (bytes generated, unless content) in a comment: fires
//	     jira:issue_updated (issue_commented, changelog field "Attachment")
//	     and comment_created. -> {"id", "comment_id", "webhooks":[...]}
//	GET  /_sim/jira/webhook -> {"url":string, "secret":string}
//	PUT  /_sim/jira/webhook {"url":string, "secret":string}  (empty url: none)
//	     The webhook an administrator enters in Jira's settings page: every
//	     event, every issue.
//	GET  /_sim/jira/admin-webhooks
//	     -> [{"id","name","url","events":[...],"jql","secret"}]
//	     The webhooks registered through POST /rest/webhooks/1.0/webhook.
//	GET  /_sim/jira/site-admin -> {"site_admin":bool}
//	PUT  /_sim/jira/site-admin {"site_admin":bool}
//	     Whether the app account holds Administer Jira; without it the admin
//	     webhook API answers 403.
//	GET  /_sim/jira/deliveries
//	     -> [{"event","identifier","attempt":int,"webhook","status":int,"error"}]
//	     ("webhook": the REST-registered webhook's id; none for the page's)
//	     Every delivery attempt (attempt n carries X-Atlassian-Webhook-Retry: n).
//	POST /_sim/jira/deliveries/{identifier}/redeliver
//	     Sends a delivered event (one of the last 1000) again, byte for byte,
//	     as Jira's next retry: what Jira does when it saw no answer to a
//	     delivery the app did process. -> {"webhooks":[...]}; 404 for an
//	     unknown identifier
//	GET  /_sim/jira/stats -> {"requests":{"METHOD /path":int}, "early_retries":int}
//	GET  /_sim/jira/outbox[?to=email] -> [{"to","subject","body","kind","key"}]
//	     the emails Jira sent customers, oldest first: "request-created"
//	     (a request raised on their behalf) and "public-comment" (the
//	     team's public comment, its text in body); simulator-only, since
//	     Jira sends real email
//
// Webhook results ("webhooks" above) are the first attempts, made
// synchronously in order; failed ones (408, 409, 425, 429, 5xx, timeout)
// are retried in the background. Events caused by the bridge's own REST
// calls are delivered in the background, after the call is answered.
//
// Faults (both services):
//
//	POST   /_sim/fail {"service":"telegram"|"jira", "match":string, "status":int,
//	                   "retry_after":int, "count":int, "description":string}
//	       The next count (default 1; -1: until cleared) calls matching fail
//	       with status. match is a Bot API method name ("sendMessage") for
//	       Telegram, "METHOD /exact/path" for Jira
//	       ("POST /rest/servicedeskapi/request"), or "*". retry_after (429;
//	       default 1) becomes Telegram's parameters.retry_after or Jira's
//	       Retry-After and X-RateLimit-Reset. -> the rule as stored
//	GET    /_sim/fail[?service=]  -> the active rules
//	DELETE /_sim/fail[?service=]  clears them
//
// Activity (every simulator that works in the background):
//
//	GET    /_sim/activity -> {"pending":int, "started":int}
//	       pending counts the work the simulators started on their own and
//	       have not finished: Telegram updates waiting for (or in) delivery to
//	       a webhook, Jira webhook deliveries and their retries, WhatsApp
//	       status callbacks; started counts all such work ever begun. Nothing
//	       pending in two looks with the same started means nothing more will
//	       come from the simulators unless something calls them.
//
// # Viber and WhatsApp
//
// Packages viber (the Viber REST Bot API, served as chatapi.viber.com, with
// customer media as dl-media.viber.com) and whatsapp (the WhatsApp Cloud
// API, served as graph.facebook.com, with media as lookaside.fbsbx.com) are
// Services too. Their callbacks are signed as the real services sign them:
// X-Viber-Content-Signature (hex HMAC-SHA256 of the body keyed with the bot
// token) and X-Hub-Signature-256 (sha256= and the hex HMAC-SHA256 keyed with
// the app secret). Neither redelivers a failed callback.
//
// Viber:
//
//	POST /_sim/viber/send
//	     {"user_id":string, optional "name":string,
//	      "event":"message"|"conversation_started"|"subscribed"|"unsubscribed",
//	      "text":string, "picture":true, "file":{"file_name":string,"size":int64},
//	      "sticker":true, "location":{"lat":float,"lon":float},
//	      "message_token":int64 (replays a token)}
//	     A user's event, delivered as a signed callback to the webhook. A
//	     message subscribes the user; unsubscribed unsubscribes them.
//	     -> {"message_token":int64, "status":int, "error":string,
//	         "body":string (the answer to conversation_started: the welcome),
//	         "filtered":bool (event_types exclude conversation_started)}
//	POST /_sim/viber/press {"user_id":string, "text":string}
//	     The user presses the reply button with that Text on the last
//	     keyboard the bot sent them: a signed message callback whose text is
//	     the button's ActionBody. -> as /send; 409 when no such button
//	GET  /_sim/viber/sent?receiver=ID
//	     -> [{"type","text","sender_name","message_token","timestamp",
//	          picture and file messages: "media","file_name","size",
//	          "fetched":{"status","bytes","sha256","content_type","error"},
//	          a keyboard's buttons: "keyboard":[{"ActionType","ActionBody","Text","Silent"}]}]
//	         (the simulator fetches a media URL once, as Viber does)
//	GET  /_sim/viber/webhook
//	     -> {"url","event_types":[string],"send_name":bool,"send_photo":bool}
//	GET  /_sim/viber/stats -> {"requests":{method:int},
//	         "refused":{"METHOD /pa/name":int} (calls of endpoints it does not serve)}
//
// WhatsApp:
//
//	POST /_sim/whatsapp/send
//	     {"from":digits, optional "name", "text", "image":true,
//	      "document":{"filename","size","mime_type"}, "caption", "id" (replays a wamid),
//	      "audio":{"voice":bool,"mime_type","size"}, "video":true, "sticker":true,
//	      "location":{"latitude","longitude","name","address"},
//	      "contacts":[{"formatted_name","phones":[string]}],
//	      "reaction":{"message_id" (default: the chat's last message from the
//	      business),"emoji" ("" takes it back)}, "revoke":wamid (of the
//	      customer's own earlier message)}
//	     or {"messages":[ such objects ]} for several in one delivery.
//	     Opens the customer's 24-hour window (a reaction or revoke does not).
//	     -> {"ids":[wamid], "status":int, "error":string}
//	POST /_sim/whatsapp/press {"from":digits, "title":string, optional "name",
//	      "user_id", "hide_phone", "message_id" (default: the chat's last message with buttons)}
//	     The customer presses the reply button with that title: a signed
//	     delivery of an interactive button_reply {id, title} with the
//	     pressed message in context. Opens the 24-hour window.
//	     -> as /send; 409 when no such button
//	GET  /_sim/whatsapp/sent?to=WA_ID
//	     -> [{"id","type":"text"|"document"|"interactive","text","filename","mime_type","size","caption",
//	          "buttons":[{"id","title"}] (reply buttons; text is the body)}]
//	GET  /_sim/whatsapp/webhook -> {"url","verify_token"} as subscribed_apps set them
//	POST /_sim/whatsapp/verify
//	     Meta re-verifies the subscribed callback: the same GET with
//	     hub.mode=subscribe, the subscription's hub.verify_token and a new
//	     hub.challenge. -> {"verified":bool, "error"}; 409 without a webhook
//	POST /_sim/whatsapp/age {"wa_id":string, "hours":number}
//	     Moves the customer's last message back: after 24 hours, sends fail
//	     with code 131047. -> {"last_message":unix}
//	GET  /_sim/whatsapp/stats -> {"requests":{call:int}}
//
// /_sim/fail takes "service":"viber" (match: a method such as
// "send_message"; status 429 answers Viber's status 12 "tooManyRequests",
// other statuses that HTTP status) and "service":"whatsapp" (match: phone,
// messages, upload, media, subscribe, unsubscribe; 429 answers Graph error
// code 130429, others code 1).
package sim
