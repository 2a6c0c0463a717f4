package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
)

// The website widget reaches the messengers' conversation features (issues
// 24 and 18) through the HTTPS edge, the wasm module, the realtime
// capability and the Jira simulator: the widget's requests are POSTed as
// the widget posts them, and its live events read from the edge's
// Server-Sent Events stream, as the page reads them.

const widgetTestOrigin = "https://shop.example"

// widgetEvent is an event the widget receives on its realtime channel.
type widgetEvent struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Choices []struct {
		Label string `json:"label"`
		Data  string `json:"data"`
	} `json:"choices"`
}

// widgetPage is one widget session, subscribed to its live events.
type widgetPage struct {
	t        *testing.T
	s        *stacktest.Stack
	endpoint string
	session  string
	lang     string
	seq      int

	mu     sync.Mutex // guards events
	events []widgetEvent
}

// openWidget switches the stack's project to the widget with more of the
// configuration, and opens a session subscribed to its live events.
func openWidget(t *testing.T, s *stacktest.Stack, more map[string]any) *widgetPage {
	t.Helper()
	in, ok := s.Node.Host.Registry().Get(s.Emu.Installation.ID)
	if !ok || in.Routes["web-widget"] == "" {
		t.Fatalf("the installation has no web-widget route: %+v", in.Routes)
	}
	cfg := map[string]any{"projectKey": stack.Project, "enabled": true, "channel": "web", "allowedOrigins": []string{widgetTestOrigin},
		"serviceDeskId": "1", "requestTypeId": "10"}
	for k, v := range more {
		cfg[k] = v
	}
	if a := s.AdminResolve(t, "config.set", cfg); a["ok"] != true {
		t.Fatalf("config.set web: %v", a)
	}
	p := &widgetPage{t: t, s: s, endpoint: publicurl.WebTrigger(s.Node.PublicURL, in.Routes["web-widget"]) + "?project=" + stack.Project}
	p.session, _ = p.post(map[string]any{"op": "session"})["session"].(string)
	token, _ := p.post(map[string]any{"op": "connect", "session": p.session, "name": "Ada"})["token"].(string)
	p.subscribe(token)
	return p
}

// post sends a widget request from the allowed origin; it must be answered ok.
func (p *widgetPage) post(body map[string]any) map[string]any {
	p.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", p.endpoint, bytes.NewReader(b))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", widgetTestOrigin)
	resp, err := p.s.Client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out["ok"] != true {
		p.t.Fatalf("widget %v: %d %v %v", body["op"], resp.StatusCode, out, err)
	}
	return out
}

// subscribe reads the chat's live events until the test ends; it returns
// once the stream is open, so that nothing published later is missed.
func (p *widgetPage) subscribe(token string) {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", publicurl.Realtime(p.s.Node.PublicURL, token), nil)
	req.Header.Set("Origin", widgetTestOrigin)
	resp, err := p.s.Client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		p.t.Fatalf("subscribe: %v %v", resp, err)
	}
	done := make(chan struct{})
	p.t.Cleanup(func() { cancel(); <-done })
	r := bufio.NewReader(resp.Body)
	for { // the opening comment ends with an empty line
		line, err := r.ReadString('\n')
		if err != nil {
			p.t.Fatalf("the stream closed before it opened: %v", err)
		}
		if line == "\n" {
			break
		}
	}
	go func() {
		defer close(done)
		defer resp.Body.Close()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			data, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "data: ")
			var ev widgetEvent
			if ok && json.Unmarshal([]byte(data), &ev) == nil {
				p.mu.Lock()
				p.events = append(p.events, ev)
				p.mu.Unlock()
			}
		}
	}()
}

// say sends a message as the widget does.
func (p *widgetPage) say(text string) {
	p.t.Helper()
	p.seq++
	p.post(map[string]any{"op": "send", "session": p.session, "name": "Ada", "id": fmt.Sprintf("m%d", p.seq), "text": text, "lang": p.lang})
}

// press sends a press of a button as the widget does.
func (p *widgetPage) press(data string) {
	p.t.Helper()
	p.seq++
	p.post(map[string]any{"op": "choose", "session": p.session, "name": "Ada", "id": fmt.Sprintf("c%d", p.seq), "data": data, "lang": p.lang})
}

// waitChoices waits for the next buttons after the first skip events and
// returns them.
func (p *widgetPage) waitChoices(prompt string) widgetEvent {
	p.t.Helper()
	var got widgetEvent
	waitfor.Until(p.t, stacktest.Wait, "buttons under "+prompt, func() string {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, ev := range p.events {
			if ev.Type == "choices" && strings.Contains(ev.Text, prompt) {
				got = ev
				return ""
			}
		}
		return fmt.Sprintf("%d events, none with those buttons", len(p.events))
	})
	return got
}

// waitText waits for a bot text or agent reply holding want.
func (p *widgetPage) waitText(want string) {
	p.t.Helper()
	waitfor.Until(p.t, stacktest.Wait, "the widget shows "+want, func() string {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, ev := range p.events {
			if ev.Type == "reply" && strings.Contains(ev.Text, want) {
				return ""
			}
		}
		return fmt.Sprintf("%d events, none with the text", len(p.events))
	})
}

func TestE2EWidget_TheSatisfactionRatingWithButtonsLandsInJSMsFeedback(t *testing.T) {
	t.Parallel()
	// A stack of its own: the job that closes the comment window stays
	// queued for 10 minutes.
	s := stacktest.Start(t)
	p := openWidget(t, s, map[string]any{"satisfaction": true})
	p.say("The kettle trips the fuse widgetcsat3317")
	r := s.WaitRequest(t, "widgetcsat3317")
	s.Transition(t, r.Key, "Done")
	survey := p.waitChoices("How satisfied are you")
	if len(survey.Choices) != 5 || survey.Choices[3].Data != "csat:4:"+r.Key || survey.Choices[3].Label != "★★★★" {
		t.Fatalf("buttons %+v", survey.Choices)
	}
	p.press(survey.Choices[3].Data)
	p.waitText("Thank you for your rating")
	if rating, _ := feedback(t, s, r.Key); rating != 0 {
		t.Fatalf("feedback %d posted before the comment window closed", rating)
	}
	p.say("Sorted in minutes widgetcsat3318")
	waitfor.Until(t, stacktest.Wait, "the feedback in Jira", func() string {
		rating, comment := feedback(t, s, r.Key)
		if rating != 4 || comment != "Sorted in minutes widgetcsat3318" {
			return fmt.Sprintf("feedback %d %q", rating, comment)
		}
		return ""
	})
	p.waitText("your comment has reached our support team")
	if n := len(s.RequestsWith(t, "widgetcsat3318")); n != 0 {
		t.Fatalf("the comment opened %d requests", n)
	}
}

func TestE2EWidget_TheFirstMessageMenuPicksTheRequestType(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	p := openWidget(t, s, map[string]any{"requestTypeMenu": []string{"Get IT help", "Report a problem"}})
	p.say("The badge printer smudges widgetroute5521")
	menu := p.waitChoices("What is it about?")
	if len(menu.Choices) != 2 || menu.Choices[1].Data != "rt:11" || menu.Choices[1].Label != "Report a problem" {
		t.Fatalf("buttons %+v", menu.Choices)
	}
	if n := len(s.RequestsWith(t, "widgetroute5521")); n != 0 {
		t.Fatalf("%d requests before the choice", n)
	}
	p.press("rt:11")
	r := s.WaitRequest(t, "widgetroute5521")
	if got := requestType(t, s, r.Key); got != "11" {
		t.Errorf("request type %q, want the chosen 11", got)
	}
	p.waitText(`about "Report a problem"`)
}

func TestE2EWidget_RequestsButtonsChooseTheRequestTheCustomerWritesTo(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	p := openWidget(t, s, nil)
	p.say("The lift is stuck widgetreqs7001")
	first := s.WaitRequest(t, "widgetreqs7001")
	p.say("/new")
	p.waitText("next message")
	p.say("The door is jammed widgetreqs7002")
	second := s.WaitRequest(t, "widgetreqs7002")
	p.say("/requests")
	list := p.waitChoices("You are writing to " + second.Key)
	var data []string
	for _, c := range list.Choices {
		data = append(data, c.Data)
	}
	if got, want := strings.Join(data, " "), "req:"+second.Key+" req:"+first.Key+" req:new"; got != want {
		t.Fatalf("buttons %s, want %s", got, want)
	}
	p.press("req:" + first.Key)
	p.waitText("You are now writing to " + first.Key)
	p.say("Still stuck widgetreqs7003")
	waitfor.Until(t, stacktest.Wait, "the message as a comment on the chosen request", func() string {
		if !s.Request(t, first.Key).Holds("widgetreqs7003") {
			return "not yet"
		}
		return ""
	})
	if s.Request(t, second.Key).Holds("widgetreqs7003") {
		t.Errorf("the message went to %s as well", second.Key)
	}
}

// The browser's language is the chat's, as Telegram's language_code is:
// the acknowledgement, and the resolution notice sent later without a
// message, are in German for a German browser.
func TestE2EWidget_SpeaksTheBrowsersLanguage(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	p := openWidget(t, s, map[string]any{"acknowledge": true, "satisfaction": false})
	p.lang = "de"
	p.say("Der Drucker druckt nicht widgetlang6203")
	r := s.WaitRequest(t, "widgetlang6203")
	p.waitText("Vielen Dank! Ihre Anfrage " + r.Key + " ist eröffnet")
	s.Transition(t, r.Key, "Done")
	p.waitText("Ihre Anfrage wurde gelöst")
}
