package whatsapp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
)

// The Graph API version is the one of Meta's published specification kept
// in testdata (issue 16, finding 8: v21.0 was older than it).
func TestGraphVersionIsTheSpecifications(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "specs", "whatsapp", "cloud-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &spec); err != nil || spec.Version == "" {
		t.Fatalf("spec: %v %q", err, spec.Version)
	}
	if GraphVersion != spec.Version || GraphURL != "https://graph.facebook.com/"+spec.Version+"/" {
		t.Errorf("the channel calls %s (%s); the specification is %s", GraphVersion, GraphURL, spec.Version)
	}
}

func statusChange(statuses ...map[string]any) map[string]any {
	return map[string]any{"field": "messages", "value": map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": phoneID},
		"statuses":          statuses,
	}}
}

// Failed statuses, which Meta sends after accepting a message, become
// Undelivered events with the code and its meaning; sent, delivered and read
// give none (finding 3).
func TestFailedStatusesBecomeUndeliveredEvents(t *testing.T) {
	failedStatus := func(id string, code int, title string) map[string]any {
		return map[string]any{"id": id, "status": "failed", "timestamp": "1750857384", "recipient_id": annaWaID,
			"errors": []any{map[string]any{"code": code, "title": title, "message": title, "error_data": map[string]any{"details": "Message failed to send."}}}}
	}
	body := delivery(statusChange(
		map[string]any{"id": "wamid.SENT", "status": "sent", "timestamp": "1", "recipient_id": annaWaID},
		map[string]any{"id": "wamid.SENT", "status": "delivered", "timestamp": "2", "recipient_id": annaWaID},
		map[string]any{"id": "wamid.SENT", "status": "read", "timestamp": "3", "recipient_id": annaWaID},
		failedStatus("wamid.A==", CodeUndeliverable, "Message undeliverable"),
		failedStatus("wamid.B+/", CodeExperiment, "Number is part of an experiment"),
		failedStatus("wamid.C", 999999, "Some new reason"),
	))
	evs, err := Parse(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("got %d events, want 3 failures: %+v", len(evs), evs)
	}
	want := []struct {
		msg  string
		code int
		in   string
	}{{"wamid.A==", 131026, "could not be delivered"}, {"wamid.B+/", 130472, "experiment"}, {"wamid.C", 999999, "Some new reason"}}
	for i, w := range want {
		ev := evs[i]
		if ev.Kind != channel.Undelivered || ev.MessageID != w.msg || ev.ChatID != annaWaID || ev.Failure == nil ||
			ev.Failure.Code != w.code || !strings.Contains(ev.Failure.Reason, w.in) || ev.Wiki != "" {
			t.Errorf("event %d: %+v %+v", i, ev, ev.Failure)
		}
	}
	again, _ := Parse(body, nil)
	if again[0].ID != evs[0].ID || evs[0].ID == EventID("wamid.A==") {
		t.Errorf("a redelivered status must keep its id, apart from the message's own: %q %q", again[0].ID, evs[0].ID)
	}
}

const annaUserID = "DE.1502576394655843"

// A customer who hides their number behind a username arrives with a
// business-scoped user id and no phone number; the chat is that id and
// replies address it by "recipient" (finding 4).
func TestCustomersWhoHideTheirNumberAreServedByUserID(t *testing.T) {
	hidden := map[string]any{"field": "messages", "value": map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": phoneID},
		"contacts":          []any{map[string]any{"profile": map[string]any{"name": "Anna", "username": "@anna"}, "user_id": annaUserID}},
		"messages": []any{
			map[string]any{"from_user_id": annaUserID, "id": "wamid.U1", "timestamp": "1", "type": "text", "text": map[string]any{"body": "Where is my parcel?"}},
			map[string]any{"id": "wamid.U2", "timestamp": "2", "type": "text", "text": map[string]any{"body": "Order 4711"}},
		},
	}}
	evs, err := Parse(delivery(hidden), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].ChatID != annaUserID || evs[1].ChatID != annaUserID || evs[0].Sender != "Anna" {
		t.Fatalf("%+v", evs)
	}
	fail, _ := Parse(delivery(statusChange(map[string]any{"id": "wamid.X", "status": "failed", "timestamp": "1", "recipient_user_id": annaUserID,
		"errors": []any{map[string]any{"code": 131026, "title": "Message undeliverable"}}})), nil)
	if len(fail) != 1 || fail[0].ChatID != annaUserID {
		t.Errorf("a failure for a customer known by user id: %+v", fail)
	}

	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = answer(nil)
	id, err := New(env.Env, s).SendTextID(annaUserID, "We are on it.")
	if err != nil || id != "wamid.HBgLNDkxNTExMjM0NTY3OBUCABEYEjQ2" {
		t.Fatalf("%q %v", id, err)
	}
	var m map[string]any
	_ = json.Unmarshal(env.HTTP.Requests()[0].Body, &m)
	if m["recipient"] != annaUserID || m["to"] != nil {
		t.Errorf("sent %s", env.HTTP.Requests()[0].Body)
	}
	for _, bad := range []string{"de.123", "DE.", "DE.12-3", "DEU.123", "DE." + strings.Repeat("1", 129), "US.ENT."} {
		if ValidUserID(bad) {
			t.Errorf("%q taken for a user id", bad)
		}
	}
	for _, good := range []string{"US.13491208655302741918", "US.ENT.11815799212886844830", "BR.abcXYZ09"} {
		if !ValidUserID(good) {
			t.Errorf("%q refused", good)
		}
	}
}

// An edit is relayed as a correction of the message; a message the Cloud
// API delivers without content is marked unreadable, so that the customer
// is told (finding 5).
func TestEditsAndUnsupportedMessages(t *testing.T) {
	edit := map[string]any{"from": annaWaID, "id": "wamid.EDIT", "timestamp": "2", "type": "edit",
		"edit": map[string]any{"original_message_id": "wamid.ORIG", "message": map[string]any{"type": "text", "text": map[string]any{"body": "Order 4712, not 4711"}}}}
	captionEdit := map[string]any{"from": annaWaID, "id": "wamid.EDIT2", "timestamp": "3", "type": "edit",
		"edit": map[string]any{"original_message_id": "wamid.IMG", "message": map[string]any{"type": "image",
			"image": map[string]any{"id": "1479537139650973", "mime_type": "image/jpeg", "caption": "the new label"}}}}
	unsupported := map[string]any{"from": annaWaID, "id": "wamid.POLL", "timestamp": "4", "type": "unsupported",
		"errors":      []any{map[string]any{"code": 131051, "title": "Message type unknown", "message": "Message type unknown", "error_data": map[string]any{"details": "Message type is currently not supported."}}},
		"unsupported": map[string]any{"type": "poll_creation"}}
	evs, err := Parse(delivery(change(phoneID, edit, captionEdit, unsupported)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("got %d events: %+v", len(evs), evs)
	}
	if e := evs[0]; !e.Edited || e.Plain != "Order 4712, not 4711" || e.ID != EventID("wamid.EDIT") || e.Kind != channel.Message {
		t.Errorf("edit: %+v", e)
	}
	if e := evs[1]; !e.Edited || e.Plain != "the new label" || len(e.Attachments) != 0 {
		t.Errorf("an edited caption must not send the file again: %+v", e)
	}
	if e := evs[2]; !e.Unreadable || e.Kind != channel.Message || e.Wiki != "" || e.ChatID != annaWaID {
		t.Errorf("unsupported: %+v", e)
	}
}
