package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is returned when a record does not decode.
var ErrMalformed = errors.New("abi: malformed record")

// Header is one name/value pair; a repeated name carries several values.
type Header struct {
	Name  string
	Value string
}

// Context tells a handler where it runs. The host fills it for every call.
type Context struct {
	Installation string // installation (Jira site) id
	SiteURL      string // the site's base URL, e.g. https://example.atlassian.net
	AppAccountID string // the app's own Jira account, to recognise its own comments
	InvocationID string
	WebTriggers  []Header // web trigger key -> public URL
}

// WebTriggerRequest is Forge's web trigger request.
type WebTriggerRequest struct {
	Context Context
	Trigger string // the manifest's web trigger key
	Method  string
	Path    string
	Headers []Header
	Query   []Header
	Body    []byte
}

// Response is an HTTP response: a web trigger's answer or a fetch result.
type Response struct {
	Status  uint16
	Headers []Header
	Body    []byte
}

// Request is an outbound HTTP request of fetch or jira.
type Request struct {
	Method  string
	URL     string
	Headers []Header
	Body    []byte
}

// Event is a product event such as avi:jira:commented:issue.
type Event struct {
	Context Context
	Trigger string
	Type    string
	Payload []byte // the event as JSON
}

// QueueMessage is one delivery to a queue consumer.
type QueueMessage struct {
	Context Context
	Queue   string
	ID      string
	Attempt uint32 // 1 on the first delivery
	// MaxAttempts is the host's bound on attempts; the one equal to it is
	// the last before the message becomes a dead letter. 0: unbounded.
	MaxAttempts uint32
	Payload     []byte
}

// QueueResult is a consumer's optional answer: a retry request.
type QueueResult struct {
	RetryAfterSeconds uint32 // 0: done
}

// ScheduledCall is one firing of a scheduled trigger.
type ScheduledCall struct {
	Context Context
	Trigger string
}

// ResolverCall is an admin resolver invocation; its output is the raw answer.
type ResolverCall struct {
	Context  Context
	Function string
	Payload  []byte
}

// Entry is one storage record in a query page.
type Entry struct {
	Key   string
	Value []byte
}

// Page is a storage query result.
type Page struct {
	Entries    []Entry
	NextCursor string
}

// Get returns the first value of name, compared case-insensitively as HTTP does.
func Get(h []Header, name string) string {
	for _, kv := range h {
		if equalFold(kv.Name, name) {
			return kv.Value
		}
	}
	return ""
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// encoder appends fields; it cannot fail.
type encoder []byte

func (e *encoder) uint(v uint64)   { *e = binary.AppendUvarint(*e, v) }
func (e *encoder) string(s string) { e.uint(uint64(len(s))); *e = append(*e, s...) }
func (e *encoder) bytes(b []byte)  { e.uint(uint64(len(b))); *e = append(*e, b...) }
func (e *encoder) headers(h []Header) {
	e.uint(uint64(len(h)))
	for _, kv := range h {
		e.string(kv.Name)
		e.string(kv.Value)
	}
}
func (e *encoder) context(c *Context) {
	e.string(c.Installation)
	e.string(c.SiteURL)
	e.string(c.AppAccountID)
	e.string(c.InvocationID)
	e.headers(c.WebTriggers)
}

// decoder reads fields and remembers the first error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, what)
	}
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) u32() uint32 {
	v := d.uint()
	if v > 1<<32-1 {
		d.fail("integer out of range")
		return 0
	}
	return uint32(v)
}

func (d *decoder) raw() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.fail("length past end")
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) string() string { return string(d.raw()) }

// bytes copies, so a decoded record never aliases the input buffer.
func (d *decoder) bytes() []byte {
	b := d.raw()
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// count reads a list length, bounded by what the rest of the buffer could hold.
func (d *decoder) count(minElem int) int {
	n := d.uint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.buf)/minElem) {
		d.fail("list count past end")
		return 0
	}
	return int(n)
}

func (d *decoder) headers() []Header {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	h := make([]Header, n)
	for i := range h {
		h[i].Name = d.string()
		h[i].Value = d.string()
	}
	return h
}

func (d *decoder) context(c *Context) {
	c.Installation = d.string()
	c.SiteURL = d.string()
	c.AppAccountID = d.string()
	c.InvocationID = d.string()
	c.WebTriggers = d.headers()
}

func (d *decoder) done() error {
	if d.err == nil && len(d.buf) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}

// Append encodes r onto dst.
func (r *WebTriggerRequest) Append(dst []byte) []byte {
	e := encoder(dst)
	e.context(&r.Context)
	e.string(r.Trigger)
	e.string(r.Method)
	e.string(r.Path)
	e.headers(r.Headers)
	e.headers(r.Query)
	e.bytes(r.Body)
	return e
}

// Decode replaces r with the record in src.
func (r *WebTriggerRequest) Decode(src []byte) error {
	d := decoder{buf: src}
	d.context(&r.Context)
	r.Trigger = d.string()
	r.Method = d.string()
	r.Path = d.string()
	r.Headers = d.headers()
	r.Query = d.headers()
	r.Body = d.bytes()
	return d.done()
}

// Append encodes r onto dst.
func (r *Response) Append(dst []byte) []byte {
	e := encoder(dst)
	e.uint(uint64(r.Status))
	e.headers(r.Headers)
	e.bytes(r.Body)
	return e
}

// Decode replaces r with the record in src.
func (r *Response) Decode(src []byte) error {
	d := decoder{buf: src}
	s := d.uint()
	if s > 999 {
		d.fail("status out of range")
	}
	r.Status = uint16(s)
	r.Headers = d.headers()
	r.Body = d.bytes()
	return d.done()
}

// Append encodes r onto dst.
func (r *Request) Append(dst []byte) []byte {
	e := encoder(dst)
	e.string(r.Method)
	e.string(r.URL)
	e.headers(r.Headers)
	e.bytes(r.Body)
	return e
}

// Decode replaces r with the record in src.
func (r *Request) Decode(src []byte) error {
	d := decoder{buf: src}
	r.Method = d.string()
	r.URL = d.string()
	r.Headers = d.headers()
	r.Body = d.bytes()
	return d.done()
}

// Append encodes ev onto dst.
func (ev *Event) Append(dst []byte) []byte {
	e := encoder(dst)
	e.context(&ev.Context)
	e.string(ev.Trigger)
	e.string(ev.Type)
	e.bytes(ev.Payload)
	return e
}

// Decode replaces ev with the record in src.
func (ev *Event) Decode(src []byte) error {
	d := decoder{buf: src}
	d.context(&ev.Context)
	ev.Trigger = d.string()
	ev.Type = d.string()
	ev.Payload = d.bytes()
	return d.done()
}

// Append encodes m onto dst.
func (m *QueueMessage) Append(dst []byte) []byte {
	e := encoder(dst)
	e.context(&m.Context)
	e.string(m.Queue)
	e.string(m.ID)
	e.uint(uint64(m.Attempt))
	e.uint(uint64(m.MaxAttempts))
	e.bytes(m.Payload)
	return e
}

// Decode replaces m with the record in src.
func (m *QueueMessage) Decode(src []byte) error {
	d := decoder{buf: src}
	d.context(&m.Context)
	m.Queue = d.string()
	m.ID = d.string()
	m.Attempt = d.u32()
	m.MaxAttempts = d.u32()
	m.Payload = d.bytes()
	return d.done()
}

// Append encodes r onto dst.
func (r *QueueResult) Append(dst []byte) []byte {
	e := encoder(dst)
	e.uint(uint64(r.RetryAfterSeconds))
	return e
}

// Decode replaces r with the record in src; an empty src is "done".
func (r *QueueResult) Decode(src []byte) error {
	if len(src) == 0 {
		*r = QueueResult{}
		return nil
	}
	d := decoder{buf: src}
	r.RetryAfterSeconds = d.u32()
	return d.done()
}

// Append encodes c onto dst.
func (c *ScheduledCall) Append(dst []byte) []byte {
	e := encoder(dst)
	e.context(&c.Context)
	e.string(c.Trigger)
	return e
}

// Decode replaces c with the record in src.
func (c *ScheduledCall) Decode(src []byte) error {
	d := decoder{buf: src}
	d.context(&c.Context)
	c.Trigger = d.string()
	return d.done()
}

// Append encodes c onto dst.
func (c *ResolverCall) Append(dst []byte) []byte {
	e := encoder(dst)
	e.context(&c.Context)
	e.string(c.Function)
	e.bytes(c.Payload)
	return e
}

// Decode replaces c with the record in src.
func (c *ResolverCall) Decode(src []byte) error {
	d := decoder{buf: src}
	d.context(&c.Context)
	c.Function = d.string()
	c.Payload = d.bytes()
	return d.done()
}

// Append encodes p onto dst.
func (p *Page) Append(dst []byte) []byte {
	e := encoder(dst)
	e.uint(uint64(len(p.Entries)))
	for _, en := range p.Entries {
		e.string(en.Key)
		e.bytes(en.Value)
	}
	e.string(p.NextCursor)
	return e
}

// Decode replaces p with the record in src.
func (p *Page) Decode(src []byte) error {
	d := decoder{buf: src}
	n := d.count(2)
	p.Entries = nil
	if n > 0 {
		p.Entries = make([]Entry, n)
		for i := range p.Entries {
			p.Entries[i].Key = d.string()
			p.Entries[i].Value = d.bytes()
		}
	}
	p.NextCursor = d.string()
	return d.done()
}

// AppendHeaders encodes a header list on its own (log attributes).
func AppendHeaders(dst []byte, h []Header) []byte {
	e := encoder(dst)
	e.headers(h)
	return e
}

// DecodeHeaders decodes a list written by AppendHeaders.
func DecodeHeaders(src []byte) ([]Header, error) {
	d := decoder{buf: src}
	h := d.headers()
	return h, d.done()
}
