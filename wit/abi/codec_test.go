package abi

import (
	"errors"
	"reflect"
	"testing"
)

func sampleContext() Context {
	return Context{
		Installation: "inst-1", SiteURL: "https://example.atlassian.net", AppAccountID: "app-acc",
		InvocationID: "inv-9", WebTriggers: []Header{{"telegram-webhook", "https://127.0.0.1:8443/x/abc"}},
	}
}

// record is what every boundary record implements.
type record interface {
	Append([]byte) []byte
	Decode([]byte) error
}

func TestRecordsRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		in   record
		out  record
	}{
		{"web trigger request", &WebTriggerRequest{Context: sampleContext(), Trigger: "tg", Method: "POST", Path: "/x",
			Headers: []Header{{"Content-Type", "application/json"}, {"X-A", "1"}, {"X-A", "2"}},
			Query:   []Header{{"q", "v"}}, Body: []byte(`{"update_id":1}`)}, &WebTriggerRequest{}},
		{"response", &Response{Status: 201, Headers: []Header{{"A", "b"}}, Body: []byte("ok")}, &Response{}},
		{"request", &Request{Method: "GET", URL: "https://api.telegram.org/bot{{secret:t}}/getMe", Body: []byte{0, 1, 2}}, &Request{}},
		{"event", &Event{Context: sampleContext(), Trigger: "jira", Type: "avi:jira:commented:issue", Payload: []byte(`{}`)}, &Event{}},
		{"queue message", &QueueMessage{Context: sampleContext(), Queue: "q", ID: "m1", Attempt: 3, Payload: []byte("p")}, &QueueMessage{}},
		{"queue result", &QueueResult{RetryAfterSeconds: 60}, &QueueResult{}},
		{"scheduled call", &ScheduledCall{Context: sampleContext(), Trigger: "hourly"}, &ScheduledCall{}},
		{"resolver call", &ResolverCall{Context: sampleContext(), Function: "config.get", Payload: []byte(`{"p":1}`)}, &ResolverCall{}},
		{"page", &Page{Entries: []Entry{{"a", []byte("1")}, {"b", nil}}, NextCursor: "c"}, &Page{}},
		{"empty page", &Page{}, &Page{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.in.Append(nil)
			if err := c.out.Decode(b); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(c.in, c.out) {
				t.Fatalf("round trip changed the record:\n in %+v\nout %+v", c.in, c.out)
			}
			for cut := 0; cut < len(b); cut++ {
				if err := c.out.Decode(b[:cut]); err == nil && cut < len(b) {
					// Only QueueResult treats empty input as valid.
					if _, ok := c.in.(*QueueResult); ok && cut == 0 {
						continue
					}
					t.Fatalf("truncated to %d of %d bytes decoded without error", cut, len(b))
				}
			}
			if err := c.out.Decode(append(b, 0)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("trailing byte: got %v, want ErrMalformed", err)
			}
		})
	}
}

func TestDecodedBytesDoNotAliasInput(t *testing.T) {
	in := (&Request{Body: []byte("secret-free body")}).Append(nil)
	var r Request
	if err := r.Decode(in); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'X'
	}
	if string(r.Body) != "secret-free body" {
		t.Fatalf("decoded body changed with the input buffer: %q", r.Body)
	}
}

func TestHugeCountsAreRejectedWithoutAllocating(t *testing.T) {
	// A page claiming 2^40 entries in a 10-byte buffer must fail, not allocate.
	b := []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 0, 0, 0}
	var p Page
	if err := p.Decode(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}

func TestResultPacking(t *testing.T) {
	for _, c := range []struct {
		code Code
		n    uint32
	}{{OK, 0}, {OK, 1 << 31}, {OK, ^uint32(0)}, {NotFound, 0}, {Internal, 0}} {
		gc, gn := SplitResult(Result(c.code, c.n))
		if gc != c.code || (c.code == OK && gn != c.n) {
			t.Errorf("Result(%v,%d) split to (%v,%d)", c.code, c.n, gc, gn)
		}
	}
	if c, _ := SplitResult(-1 << 40); c != Internal {
		t.Errorf("an out-of-range negative result split to %v, want internal", c)
	}
}

func TestHeaderLookupIsCaseInsensitive(t *testing.T) {
	h := []Header{{"X-Telegram-Bot-Api-Secret-Token", "s"}}
	if Get(h, "x-telegram-bot-api-secret-token") != "s" || Get(h, "x-other") != "" {
		t.Fatal("Get did not match HTTP header names case-insensitively")
	}
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add((&WebTriggerRequest{Context: sampleContext(), Method: "POST", Body: []byte("{}")}).Append(nil))
	f.Add((&Page{Entries: []Entry{{"k", []byte("v")}}}).Append(nil))
	f.Add((&Request{Method: "GET", URL: "u"}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		decoders := []record{&WebTriggerRequest{}, &Response{}, &Request{}, &Event{}, &QueueMessage{},
			&QueueResult{}, &ScheduledCall{}, &ResolverCall{}, &Page{}}
		for _, r := range decoders {
			if err := r.Decode(b); err != nil {
				continue
			}
			// Whatever decodes re-encodes to the same bytes: the encoding is canonical
			// except for non-minimal varints, so compare decoded values instead.
			again := reflect.New(reflect.TypeOf(r).Elem()).Interface().(record)
			if err := again.Decode(r.Append(nil)); err != nil {
				t.Fatalf("%T: re-encoded record does not decode: %v", r, err)
			}
			if !reflect.DeepEqual(r, again) {
				t.Fatalf("%T: decode(encode(x)) != x", r)
			}
		}
		_, _ = DecodeHeaders(b)
	})
}

func TestTxn_RoundTripsAndRefusesWhatItCannotMean(t *testing.T) {
	in := Txn{
		{Kind: TxnSet, Key: "a", Value: []byte("v"), TTLSeconds: 60, Condition: IfAbsent},
		{Kind: TxnDelete, Key: "b"},
		{Kind: TxnCheck, Key: "c", Condition: IfEquals, Expect: []byte("x")},
	}
	var out Txn
	if err := out.Decode(in.Append(nil)); err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || out[0].Key != "a" || string(out[0].Value) != "v" || out[0].TTLSeconds != 60 || out[0].Condition != IfAbsent ||
		out[1].Kind != TxnDelete || string(out[2].Expect) != "x" || out[2].Condition != IfEquals {
		t.Fatalf("round trip: %+v", out)
	}
	bad := Txn{{Kind: TxnKind(3), Key: "a"}}.Append(nil)
	if err := out.Decode(bad); err == nil {
		t.Error("an unknown kind decoded")
	}
	many := make(Txn, MaxTxnOps+1)
	for i := range many {
		many[i].Key = "k"
	}
	if err := out.Decode(many.Append(nil)); err == nil {
		t.Error("more than MaxTxnOps operations decoded")
	}
}

func FuzzTxn_Decode(f *testing.F) {
	f.Add(Txn{{Kind: TxnSet, Key: "a", Value: []byte("v"), Condition: IfAbsent}}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var txn Txn
		if err := txn.Decode(b); err != nil {
			return
		}
		var again Txn
		if err := again.Decode(txn.Append(nil)); err != nil || len(again) != len(txn) {
			t.Fatalf("a decoded transaction does not round-trip: %v", err)
		}
	})
}
