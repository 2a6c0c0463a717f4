// Package console is the local emulator's web console: a messenger pane
// (Telegram, Viber or WhatsApp, chatting as a customer of that simulator's
// bot, or the website widget on the demo page in a frame; it offers to
// switch the dev project to the chosen messenger, for the widget with the
// console's origin allowed; the
// bot's buttons, keyboards and WhatsApp lists are shown and clickable, a
// click delivered through the simulator as the messenger delivers a press,
// a WhatsApp template is shown as one, and a Telegram message in a
// private-chat topic is labelled with it, the label making the customer
// write in that topic; `chatbridge dev -telegram-topics`) and a
// service-desk pane driven through the simulators' control API, a live
// trace of invocations and capability calls, the queue, a storage inspector
// that shows each record sealed on disk beside its opened value, project
// settings through the bridge's admin resolvers, fault switches, and buttons
// that fire each scheduled trigger and send each product event the loaded
// manifest subscribes to, on demand.
//
// # Dev mode only
//
// The console shows decrypted storage and storage keys and answers without
// the admin token, so it exists only where `chatbridge dev` mounts it (on the
// loopback admin listener, whose guard takes a write only from the console's
// own page or with the admin token). Nothing in `serve` imports this package.
//
// # Routes
//
//	GET  /                     the console (embedded HTML, CSS and JS)
//	GET  /_console/state?after=N   trace events after N, queue, engine, reload status
//	GET  /_console/storage?installation=ID&space=kvs|queue|dedupe|secret
//	POST /_console/resolve/{installation}/{function}   an admin resolver call
//	POST /_console/fire/{installation}/schedule/{key}   fire a scheduled trigger now
//	POST /_console/fire/{installation}/events/{type}    deliver a product event, the body its payload
//	GET  /demo/widget?project=KEY[&installation=ID]    a demo page embedding the website widget
//	                                                    from the edge (its own policy allows the edge)
//
// The fire routes go through the admin API's own (host/adminapi, fire.go),
// called in process with a token the console makes for itself and never
// shows: the page proves itself by its Origin, not by the admin token.
//
// The page calls the simulators' /_sim/ API, mounted beside it, directly.
package console
