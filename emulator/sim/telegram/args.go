package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// args are the parameters of one Bot API call, which Telegram takes from
// the query string, a urlencoded or JSON body, or multipart parts (files
// among them), in any mix.
type args struct {
	method     *method
	json       map[string]json.RawMessage
	form       url.Values
	files      map[string]*upload
	undeclared []string // parameters read that the method does not declare (a simulator bug)
}

// upload is a file sent as a multipart part.
type upload struct {
	name        string
	contentType string
	data        []byte
}

// maxFormBytes bounds a request without file uploads.
const maxFormBytes = 10 << 20

// readArgs decodes a request's parameters; files larger than maxUpload
// answer 413 as Telegram's front end does.
func readArgs(r *http.Request, maxUpload int64) (*args, *apiError) {
	a := &args{form: url.Values{}, files: map[string]*upload{}}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
		if err != nil {
			return nil, badRequest("can't read request body")
		}
		if len(body) > maxFormBytes {
			return nil, errTooLarge
		}
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &a.json); err != nil {
				return nil, badRequest("can't parse JSON object")
			}
		}
	case "application/x-www-form-urlencoded":
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
		if err != nil {
			return nil, badRequest("can't read request body")
		}
		if len(body) > maxFormBytes {
			return nil, errTooLarge
		}
		if a.form, err = url.ParseQuery(string(body)); err != nil {
			return nil, badRequest("can't parse request body")
		}
	case "multipart/form-data":
		if e := a.readMultipart(r.Body, params["boundary"], maxUpload); e != nil {
			return nil, e
		}
	}
	for k, v := range r.URL.Query() {
		if _, ok := a.json[k]; !ok && !a.form.Has(k) {
			a.form[k] = v
		}
	}
	return a, nil
}

func (a *args) readMultipart(body io.Reader, boundary string, maxUpload int64) *apiError {
	if boundary == "" {
		return badRequest("can't parse multipart/form-data request")
	}
	mr := multipart.NewReader(http.MaxBytesReader(nil, io.NopCloser(body), maxUpload+maxFormBytes), boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return multipartError(err)
		}
		name := part.FormName()
		if part.FileName() == "" {
			v, err := io.ReadAll(io.LimitReader(part, maxFormBytes+1))
			if err != nil {
				return multipartError(err)
			}
			if len(v) > maxFormBytes {
				return errTooLarge
			}
			a.form.Add(name, string(v))
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, maxUpload+1))
		if err != nil {
			return multipartError(err)
		}
		if int64(len(data)) > maxUpload {
			return errTooLarge
		}
		a.files[name] = &upload{name: part.FileName(), contentType: part.Header.Get("Content-Type"), data: data}
	}
}

// multipartError is the answer to a broken or oversized multipart body.
func multipartError(err error) *apiError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errTooLarge
	}
	return badRequest("can't parse multipart/form-data request")
}

// declared notes a parameter the method reads but does not declare.
func (a *args) declared(name string) {
	if a.method == nil {
		return
	}
	if slices.ContainsFunc(a.method.params, func(p param) bool { return p.name == name }) {
		return
	}
	if !slices.Contains(a.undeclared, name) {
		a.undeclared = append(a.undeclared, name)
	}
}

// value is a parameter's JSON value or form string; ok is false when absent
// (a JSON null counts as absent).
func (a *args) value(name string) (raw json.RawMessage, form string, isJSON, ok bool) {
	a.declared(name)
	if v, ok := a.json[name]; ok && string(v) != "null" {
		return v, "", true, true
	}
	if a.form.Has(name) {
		return nil, a.form.Get(name), false, true
	}
	return nil, "", false, false
}

// str reads a String parameter; numbers and booleans are taken as text, as
// Telegram does.
func (a *args) str(name string) (string, bool, *apiError) {
	raw, form, isJSON, ok := a.value(name)
	if !ok {
		return "", false, nil
	}
	if !isJSON {
		return form, true, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true, nil
	}
	switch raw[0] {
	case '{', '[', '"':
		return "", false, badRequest("field \"%s\" must be of type String", name)
	}
	return string(raw), true, nil
}

// integer reads an Integer parameter, given as a number or as digits.
func (a *args) integer(name string) (int64, bool, *apiError) {
	raw, form, isJSON, ok := a.value(name)
	if !ok {
		return 0, false, nil
	}
	text := form
	if isJSON {
		text = string(raw)
		var s string
		if json.Unmarshal(raw, &s) == nil {
			text = s
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil {
		return 0, false, badRequest("field \"%s\" must be of type Integer", name)
	}
	return n, true, nil
}

// boolean reads a Boolean parameter: true, "true", "True" or "1".
func (a *args) boolean(name string) bool {
	raw, form, isJSON, ok := a.value(name)
	if !ok {
		return false
	}
	if isJSON {
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			return b
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return string(raw) == "1"
		}
		form = s
	}
	switch strings.ToLower(strings.TrimSpace(form)) {
	case "true", "1":
		return true
	}
	return false
}

// object reads a JSON-serialized parameter (an object or array, which form
// and multipart requests carry as a JSON string) into dst.
func (a *args) object(name, what string, dst any) (bool, *apiError) {
	raw, form, isJSON, ok := a.value(name)
	if !ok {
		return false, nil
	}
	if !isJSON {
		raw = json.RawMessage(form)
	} else if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			raw = json.RawMessage(s)
		}
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return false, badRequest("can't parse %s JSON object", what)
	}
	return true, nil
}

// file reads an InputFile-or-String parameter: an uploaded part, or a
// file_id or URL.
func (a *args) file(name string) (*upload, string, *apiError) {
	a.declared(name)
	if f := a.files[name]; f != nil {
		return f, "", nil
	}
	s, _, e := a.str(name)
	if e != nil {
		return nil, "", e
	}
	if ref, ok := strings.CutPrefix(s, "attach://"); ok {
		if f := a.files[ref]; f != nil {
			return f, "", nil
		}
		return nil, "", badRequest("wrong file identifier/HTTP URL specified")
	}
	return nil, s, nil
}

// chatID peeks at chat_id without declaring it: for scoping retry windows.
func (a *args) chatID() (int64, bool) {
	if raw, ok := a.json["chat_id"]; ok {
		var n int64
		if json.Unmarshal(raw, &n) == nil {
			return n, true
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			n, err := strconv.ParseInt(s, 10, 64)
			return n, err == nil
		}
		return 0, false
	}
	if a.form.Has("chat_id") {
		n, err := strconv.ParseInt(a.form.Get("chat_id"), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// requireChatID reads chat_id: an integer, or an @username Telegram cannot
// find here (every chat of the simulator is private, with an id).
func (a *args) requireChatID() (int64, *apiError) {
	s, ok, e := a.str("chat_id")
	if e != nil {
		return 0, e
	}
	if !ok || strings.TrimSpace(s) == "" {
		return 0, badRequest("chat_id is empty")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, errChatNotFound
	}
	return n, nil
}
