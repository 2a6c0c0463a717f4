package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The limit on /link EMAIL: every code makes JSM email an address (and may
// make it a customer of the desk), so one chat must not make it email
// many. A chat gets at most one code per address per quarter hour
// (linkAgain) and codes for at most linkAddresses different addresses per
// hour (linkRateWindow); the flood limit (abuse.go) bounds only how many
// messages it sends. The limit is checked before the bridge looks the
// address up, so its answer, like the code's, says nothing of whether the
// address has an account.
//
// What it keeps is the linkrate record: keyed by an HMAC of the chat under
// the project's key (as the link record is), holding for each address asked
// for in the last hour an HMAC of the address and when it was asked; it
// expires an hour after the last ask. Beside it, the linkaddr record of each
// address (keyed by its HMAC) says when a code last went to it from any
// chat, for a quarter hour: chats cost nothing on the widget
// (SECURITY.md, "Customer identity").

const (
	// linkAgain is how long a chat waits before a second code for the
	// same address: a code is valid for 15 to 30 minutes (linkSlot).
	linkAgain = linkSlot
	// linkRateWindow is the window of the limit on addresses.
	linkRateWindow = time.Hour
	// linkAddresses is how many different addresses a chat may ask codes
	// for in linkRateWindow.
	linkAddresses = 3
)

// linkRateKey names a chat's record of the addresses it asked codes for by
// an HMAC of the chat under the project's key: no chat id in the key.
func linkRateKey(project string, hashKey []byte, ch, chatID string) string {
	m := hmac.New(sha256.New, subKey(hashKey, "link.rate"))
	m.Write([]byte(project + "\x00" + ch + "\x00" + chatID))
	return "linkrate:" + project + ":" + hex.EncodeToString(m.Sum(nil)[:16])
}

// linkAddrKey names an address's last code, from whichever chat, by the
// address's HMAC under the project's key: no address in the key.
func linkAddrKey(project, addr string) string { return "linkaddr:" + project + ":" + addr }

// linkAddrRecord is when a code for an address last went out, and the
// delivery that asked (its retry is not refused).
type linkAddrRecord struct {
	At int64  `json:"at"`
	By string `json:"by"`
}

// linkAsk is one address a chat asked a code for.
type linkAsk struct {
	// Addr is an HMAC of the address (case folded) under the project's key.
	Addr string `json:"a"`
	// At is when the code was last asked for (Unix seconds).
	At int64 `json:"at"`
	// By is a hash of the delivery that asked, so that its retry is not
	// refused as a second ask.
	By string `json:"by,omitempty"`
}

// linkRateRecord is a chat's asks of the last hour.
type linkRateRecord struct {
	Asks []linkAsk `json:"asks"`
	// At is the last ask (Unix seconds), for the inventory.
	At int64 `json:"at"`
}

// linkAddrHash is the HMAC of an address as the linkrate record holds it.
func linkAddrHash(hashKey []byte, project, email string) string {
	m := hmac.New(sha256.New, subKey(hashKey, "link.rate.address"))
	m.Write([]byte(project + "\x00" + strings.ToLower(email)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// deliveryHash is a short hash of a delivery's nonce.
func deliveryHash(nonce string) string {
	sum := sha256.Sum256([]byte("chatbridge.link.rate.by\x00" + nonce))
	return hex.EncodeToString(sum[:8])
}

// linkVerdict is what the limit says of one ask.
type linkVerdict int

const (
	linkAllowed linkVerdict = iota
	linkTooSoon             // a code for this address went out less than linkAgain ago
	linkTooMany             // linkAddresses other addresses were asked for in the window
)

// ask decides on an ask for addr by delivery by at now, and returns the
// record to store when it is allowed, and how long the chat waits when it
// is not. Asks older than the window are dropped; an ask by the same
// delivery (a retry) is allowed and changes nothing.
func (r linkRateRecord) ask(addr, by string, now time.Time) (linkVerdict, linkRateRecord, time.Duration) {
	var kept []linkAsk
	for _, a := range r.Asks {
		// A time ahead of the clock (another node's skew) counts as now.
		if now.Sub(time.Unix(a.At, 0)) < linkRateWindow {
			kept = append(kept, a)
		}
	}
	i := slices.IndexFunc(kept, func(a linkAsk) bool { return a.Addr == addr })
	if i >= 0 && kept[i].By == by {
		return linkAllowed, linkRateRecord{Asks: kept, At: r.At}, 0
	}
	if i >= 0 {
		if wait := time.Unix(kept[i].At, 0).Add(linkAgain).Sub(now); wait > 0 {
			return linkTooSoon, r, wait
		}
		kept = slices.Delete(kept, i, i+1)
	} else if len(kept) >= linkAddresses {
		// The window frees a place when its oldest ask leaves it.
		oldest := kept[0].At
		for _, a := range kept {
			oldest = min(oldest, a.At)
		}
		return linkTooMany, r, time.Unix(oldest, 0).Add(linkRateWindow).Sub(now)
	}
	kept = append(kept, linkAsk{Addr: addr, At: now.Unix(), By: by})
	return linkAllowed, linkRateRecord{Asks: kept, At: now.Unix()}, 0
}

// ttl is how long the record lives: an hour after its last ask.
func (r linkRateRecord) ttl(now time.Time) time.Duration {
	last := r.At
	for _, a := range r.Asks {
		last = max(last, a.At)
	}
	return max(time.Unix(last, 0).Add(linkRateWindow).Sub(now), time.Second)
}

// linkLimited applies the limit to this delivery's /link EMAIL, once: it
// records the ask and reports false when allowed (the progress step
// "asked" records that), or answers the chat and reports true when not.
func (w *inbound) linkLimited(key []byte, email string, lt *linkTexts) (bool, error) {
	if w.prog.has("asked") || w.prog.has("reply") || w.prog.Account != "" {
		return false, nil
	}
	rk := linkRateKey(w.job.Project, key, w.job.Channel, w.job.Event.ChatID)
	var rec linkRateRecord
	if _, err := w.st.get(rk, &rec); err != nil {
		return false, err
	}
	now := w.b.now()
	verdict, next, wait := rec.ask(linkAddrHash(key, w.job.Project, email), deliveryHash(w.job.Nonce), now)
	minutes := strconv.Itoa(int((wait + time.Minute - 1) / time.Minute))
	switch verdict {
	case linkTooSoon:
		w.log.Info("inbound: /link for an address asked for within the quarter hour; no code sent")
		return true, w.replyStep("reply", fill(lt.Again, "{email}", email, "{minutes}", minutes))
	case linkTooMany:
		w.log.Info("inbound: /link over the chat's addresses per hour; no code sent")
		return true, w.replyStep("reply", fill(lt.TooMany, "{minutes}", minutes))
	}
	// The same address from any chat: a widget session is free to make, so
	// a limit per chat alone would let a page ask a code for one address
	// from a new session each time.
	addr, by := linkAddrHash(key, w.job.Project, email), deliveryHash(w.job.Nonce)
	ak := linkAddrKey(w.job.Project, addr)
	var last linkAddrRecord
	if _, err := w.st.get(ak, &last); err != nil {
		return false, err
	}
	if wait := time.Unix(last.At, 0).Add(linkAgain).Sub(now); last.By != by && wait > 0 {
		w.log.Info("inbound: /link for an address another chat asked for within the quarter hour; no code sent")
		minutes := strconv.Itoa(int((wait + time.Minute - 1) / time.Minute))
		return true, w.replyStep("reply", fill(lt.Again, "{email}", email, "{minutes}", minutes))
	}
	if err := w.st.put(ak, &linkAddrRecord{At: now.Unix(), By: by}, linkAgain); err != nil {
		return false, err
	}
	if err := w.st.put(rk, &next, next.ttl(now)); err != nil {
		return false, err
	}
	w.prog.Steps = append(w.prog.Steps, "asked")
	return false, w.saveProgress()
}
