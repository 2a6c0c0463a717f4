package adminui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// Cookie names. The session cookie holds a random id only; what it stands
// for lives in memory here.
const (
	sessionCookie = "chatbridge_admin"
	signinCookie  = "chatbridge_signin"
)

// signinTTL bounds how long a sign-in form stays usable.
const signinTTL = 10 * time.Minute

// maxSessions bounds the sessions kept; a new one beyond it ends the one
// least recently used.
const maxSessions = 64

// session is one signed-in browser.
type session struct {
	csrf    string
	created time.Time
	seen    time.Time
	// flash is a message for the next page shown (after a redirect).
	flash string
	// receipts are the uninstall receipts this session received, by
	// installation id, exactly as the API answered them, for download.
	receipts map[string][]byte
}

// maxReceipts bounds the receipts a session keeps for download.
const maxReceipts = 16

// sessions are the signed-in browsers, by the SHA-256 of their cookie's
// id, so that the map holds nothing a browser could present.
type sessions struct {
	idle, maxAge time.Duration
	now          func() time.Time

	mu   sync.Mutex // guards byID and the sessions in it
	byID map[string]*session
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// start makes a session and returns its cookie id.
func (s *sessions) start() string {
	id := randomToken()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID {
		if s.expired(v, now) {
			delete(s.byID, k)
		}
	}
	if len(s.byID) >= maxSessions {
		oldest := ""
		for k, v := range s.byID {
			if oldest == "" || v.seen.Before(s.byID[oldest].seen) {
				oldest = k
			}
		}
		delete(s.byID, oldest)
	}
	s.byID[hashID(id)] = &session{csrf: randomToken(), created: now, seen: now}
	return id
}

func (s *sessions) expired(v *session, now time.Time) bool {
	return now.Sub(v.seen) >= s.idle || now.Sub(v.created) >= s.maxAge
}

// lookup returns a copy of the live session of r, touching it, or false.
func (s *sessions) lookup(r *http.Request) (session, string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, "", false
	}
	key := hashID(c.Value)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[key]
	if !ok {
		return session{}, "", false
	}
	if s.expired(v, now) {
		delete(s.byID, key)
		return session{}, "", false
	}
	v.seen = now
	return *v, key, true
}

// takeFlash returns and clears the session's flash message.
func (s *sessions) takeFlash(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[key]
	if !ok {
		return ""
	}
	f := v.flash
	v.flash = ""
	return f
}

func (s *sessions) setFlash(key, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.byID[key]; ok {
		v.flash = msg
	}
}

// keepReceipt keeps an uninstall receipt for the session's download link.
func (s *sessions) keepReceipt(key, installation string, receipt []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[key]
	if !ok {
		return
	}
	if v.receipts == nil {
		v.receipts = map[string][]byte{}
	}
	if _, ok := v.receipts[installation]; !ok && len(v.receipts) >= maxReceipts {
		for k := range v.receipts {
			delete(v.receipts, k)
			break
		}
	}
	v.receipts[installation] = receipt
}

// receipt returns a receipt the session kept.
func (s *sessions) receipt(key, installation string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[key]
	if !ok {
		return nil, false
	}
	r, ok := v.receipts[installation]
	return r, ok
}

func (s *sessions) end(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, key)
}

// sameToken compares a presented token with the expected one in constant
// time; an empty one never matches.
func sameToken(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// signinCSRF is the CSRF token of a sign-in form: an HMAC of the sign-in
// cookie's nonce under the process's key, so that no state is kept for
// browsers that never sign in.
func signinCSRF(key []byte, nonce string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("chatbridge.adminui.signin\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// cookie is a cookie of the UI: HttpOnly, SameSite=Strict, scoped to the
// UI's path, Secure when the request came over TLS.
func cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode}
}
