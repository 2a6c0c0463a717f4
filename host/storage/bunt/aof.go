package bunt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"sort"
	"strconv"
	"strings"
	"time"
)

// BuntDB's file is an append-only log of RESP commands:
//
//	*3\r\n$3\r\nset\r\n$<n>\r\n<key>\r\n$<n>\r\n<value>\r\n
//	*5\r\n$3\r\nset\r\n$<n>\r\n<key>\r\n$<n>\r\n<value>\r\n$2\r\nae\r\n$<n>\r\n<unix seconds>\r\n
//	*2\r\n$3\r\ndel\r\n$<n>\r\n<key>\r\n
//
// BuntDB's own loader truncates the file at the first command that runs past
// the end of the file, wherever that command starts: one damaged length
// field silently drops every later record. So Open reads the file with the
// parser below first, and lets BuntDB load only a file that parses cleanly
// end to end; anything else is replayed here and rewritten.

// errTorn marks a command cut short by the end of the file.
var errTorn = errors.New("command runs past the end of the file")

// command is one parsed RESP command; parts alias the file buffer.
type command struct {
	parts [][]byte
	start int
	end   int
}

// parseCommand parses the command at off. On error it returns what it parsed
// so far, so a damaged command's key can still be named.
func parseCommand(b []byte, off int) (command, error) {
	c := command{start: off}
	n, off, err := parseLen(b, off, '*')
	if err != nil {
		return c, err
	}
	if n == 0 || n > 8 {
		return c, errMalformed
	}
	for i := 0; i < n; i++ {
		var l int
		l, off, err = parseLen(b, off, '$')
		if err != nil {
			return c, err
		}
		if l > len(b)-off-2 {
			if l > 1<<30 {
				return c, errMalformed
			}
			return c, errTorn
		}
		if b[off+l] != '\r' || b[off+l+1] != '\n' {
			return c, errMalformed
		}
		c.parts = append(c.parts, b[off:off+l])
		off += l + 2
	}
	c.end = off
	return c, nil
}

// parseLen parses "<prefix><decimal>\r\n" as BuntDB writes it.
func parseLen(b []byte, off int, prefix byte) (int, int, error) {
	if off >= len(b) {
		return 0, off, errTorn
	}
	if b[off] != prefix {
		return 0, off, errMalformed
	}
	n := 0
	i := off + 1
	for ; i < len(b) && b[i] != '\r'; i++ {
		c := b[i]
		if c < '0' || c > '9' || i-off > 10 {
			return 0, off, errMalformed
		}
		n = n*10 + int(c-'0')
	}
	if i == off+1 && i < len(b) {
		return 0, off, errMalformed
	}
	if i+1 >= len(b) {
		return 0, off, errTorn
	}
	if b[i+1] != '\n' {
		return 0, off, errMalformed
	}
	return n, i + 2, nil
}

func isCmd(c command, name string) bool {
	return len(c.parts) > 0 && strings.EqualFold(string(c.parts[0]), name)
}

// Damage describes what Open found wrong in the file and how it was repaired.
type Damage struct {
	// Offset and Length locate the damaged bytes in the file as it was.
	Offset, Length int64
	// Key is the record's key when it could be told, else "".
	Key string
	// Torn reports an interrupted write (a cut-off tail, a run of zero bytes,
	// an incomplete batch): the write was never acknowledged and is dropped.
	// Otherwise the bytes were altered, and Key, when known, now reads as
	// damaged (an error wrapping storage.ErrIntegrity) until overwritten.
	Torn bool
	// Reason says what was wrong.
	Reason string
}

// replayed is the state a file describes.
type replayed struct {
	items   map[string]string // key -> stored value
	expires map[string]int64
	damage  []Damage
	// rewrite is set when BuntDB must not load the file as it is.
	rewrite bool
	// cut, unless negative, is where a torn tail begins: cutting the file
	// there is all it needs when rewrite is not set.
	cut int64
	// size is the length of the file read.
	size int64
}

// zeroRun is the shortest run of zero bytes taken as an unwritten region left
// by a crash rather than as altered bytes: file systems lose whole sectors,
// and sealed data does not hold 64 zero bytes in a row.
const zeroRun = 64

// replay reads a whole BuntDB file and computes the records it holds,
// with damaged records poisoned, torn writes dropped and expired overwrites
// applied (BuntDB's loader would bring back the value an expired record had
// replaced).
func replay(b []byte, now time.Time) *replayed {
	r := &replayed{items: map[string]string{}, expires: map[string]int64{}, size: int64(len(b)), cut: -1}
	var group struct {
		id, count uint64
		cmds      []command
		damaged   int
	}
	// dropTorn drops the open batch, if incomplete, as a torn write. A torn
	// tail (nothing intact after it) only needs the file cut where it
	// starts; a torn region with intact commands after it needs a rewrite.
	dropTorn := func(tail bool) (cut int) {
		cut = -1
		if group.count == 0 {
			return cut
		}
		if uint64(len(group.cmds)+group.damaged) >= group.count {
			for _, c := range group.cmds {
				r.apply(c, now)
			}
		} else {
			start := group.cmds[0].start
			end := group.cmds[len(group.cmds)-1].end
			r.damage = append(r.damage, Damage{Offset: int64(start), Length: int64(end - start), Torn: true,
				Reason: "incomplete batch"})
			if tail && group.damaged == 0 {
				cut = start
			} else {
				r.rewrite = true
			}
		}
		group.id, group.count, group.cmds, group.damaged = 0, 0, nil, 0
		return cut
	}
	// closeGroup ends the open batch before an intact command.
	closeGroup := func() {
		if group.count == 0 {
			return
		}
		if uint64(len(group.cmds)+group.damaged) < group.count {
			r.damage = append(r.damage, Damage{Offset: int64(group.cmds[0].start), Reason: "batch missing writes"})
			r.rewrite = true
		}
		for _, c := range group.cmds {
			r.apply(c, now)
		}
		group.id, group.count, group.cmds, group.damaged = 0, 0, nil, 0
	}
	// tornTail handles a torn region [off, len(b)): cut the file there.
	tornTail := func(off int, reason string) {
		at := off
		if c := dropTorn(true); c >= 0 {
			at = c
		}
		r.damage = append(r.damage, Damage{Offset: int64(off), Length: int64(len(b) - off), Torn: true, Reason: reason})
		r.cut = int64(at)
	}
	off := 0
	for off < len(b) {
		if b[off] == 0 {
			// BuntDB skips zero bytes between commands: a crash can leave them.
			z := off
			for z < len(b) && b[z] == 0 {
				z++
			}
			if z == len(b) {
				tornTail(off, "unwritten region (zero bytes) from a crash")
				break
			}
			r.rewrite = true
			off = z
			continue
		}
		c, err := parseCommand(b, off)
		if err == nil {
			if v, ok := c.batchOf(); ok {
				if group.count != 0 && group.id != v.batch {
					closeGroup()
				}
				group.id, group.count = v.batch, v.count
				group.cmds = append(group.cmds, c)
			} else if reason := c.check(); reason == "" {
				closeGroup()
				r.apply(c, now)
			} else if bytes.Contains(b[c.start:c.end], make([]byte, zeroRun)) {
				// Framing intact, contents never written: a torn write.
				if resync(b, c.end) < 0 {
					tornTail(c.start, "unwritten region (zero bytes) from a crash")
					break
				}
				dropTorn(false)
				r.damage = append(r.damage, Damage{Offset: int64(c.start), Length: int64(c.end - c.start), Torn: true,
					Reason: "unwritten region (zero bytes) from a crash"})
				r.rewrite = true
			} else {
				if group.count != 0 {
					group.damaged++
				}
				r.damaged(b, c, c.end, reason)
			}
			off = c.end
			continue
		}
		next := resync(b, off+1)
		if next < 0 {
			tornTail(off, "write cut off at the end of the file")
			break
		}
		if bytes.Contains(b[off:next], make([]byte, zeroRun)) {
			// A batch cut by a crash is dropped whole, whatever follows.
			dropTorn(false)
			r.damage = append(r.damage, Damage{Offset: int64(off), Length: int64(next - off), Torn: true,
				Reason: "unwritten region (zero bytes) from a crash"})
			r.rewrite = true
		} else {
			if group.count != 0 {
				group.damaged++
			}
			r.damaged(b, c, next, "malformed command")
		}
		off = next
	}
	if c := dropTorn(true); c >= 0 && (r.cut < 0 || int64(c) < r.cut) {
		r.cut = int64(c)
	}
	return r
}

// batchOf reports whether c is a valid member of a multi-write batch.
func (c command) batchOf() (stored, bool) {
	if !isCmd(c, "set") || (len(c.parts) != 3 && len(c.parts) != 5) {
		return stored{}, false
	}
	v, err := decodeValue(string(c.parts[2]))
	if err != nil || v.count < 2 || c.check() != "" {
		return stored{}, false
	}
	return v, true
}

// check returns why a well-formed command is not one this package wrote
// intact, or "".
func (c command) check() string {
	switch {
	case isCmd(c, "del"):
		if len(c.parts) != 2 {
			return "del with wrong arity"
		}
		return ""
	case isCmd(c, "flushdb"):
		if len(c.parts) != 1 {
			return "flushdb with wrong arity"
		}
		return ""
	case !isCmd(c, "set"):
		return "unknown command"
	}
	if len(c.parts) != 3 && len(c.parts) != 5 {
		return "set with wrong arity"
	}
	v, err := decodeValue(string(c.parts[2]))
	if err != nil {
		return "value fails its checksum"
	}
	if v.key != string(c.parts[1]) {
		return "key differs from the value's copy of it"
	}
	if len(c.parts) == 3 {
		if v.expires != 0 {
			return "expiry missing"
		}
		return ""
	}
	switch strings.ToLower(string(c.parts[3])) {
	case "ae":
		e, err := strconv.ParseInt(string(c.parts[4]), 10, 64)
		if err != nil || e != v.expires {
			return "expiry differs from the value's copy of it"
		}
	case "ex":
		if v.expires == 0 {
			return "expiry on a record written without one"
		}
	default:
		return "unknown set option"
	}
	return ""
}

// apply replays one checked command.
func (r *replayed) apply(c command, now time.Time) {
	switch {
	case isCmd(c, "del"):
		key := string(c.parts[1])
		delete(r.items, key)
		delete(r.expires, key)
	case isCmd(c, "flushdb"):
		clear(r.items)
		clear(r.expires)
	default:
		key := string(c.parts[1])
		v, _ := decodeValue(string(c.parts[2]))
		if v.expires != 0 && !time.Unix(v.expires, 0).After(now) {
			// BuntDB's loader would skip this record and keep the one it
			// replaced: the file must be rewritten without either.
			if _, ok := r.items[key]; ok {
				r.rewrite = true
			}
			delete(r.items, key)
			delete(r.expires, key)
			return
		}
		r.items[key] = string(c.parts[2])
		r.expires[key] = v.expires
	}
}

// damaged records altered bytes [c.start, end) and poisons the key they held,
// when it can be told.
func (r *replayed) damaged(b []byte, c command, end int, reason string) {
	r.rewrite = true
	key, ok := "", false
	if len(c.parts) >= 2 && (isCmd(c, "set") || isCmd(c, "del")) {
		key, ok = string(c.parts[1]), true
		if isCmd(c, "set") && len(c.parts) >= 3 {
			// A value that checks out names its own key: the one beside it
			// was altered.
			if v, err := decodeValue(string(c.parts[2])); err == nil && v.key != key {
				key = v.key
			}
		}
	}
	if !ok {
		key, ok = findEmbeddedKey(b[c.start:end])
	}
	r.damage = append(r.damage, Damage{Offset: int64(c.start), Length: int64(end - c.start), Key: key, Reason: reason})
	if ok {
		r.items[key] = encodeValue(kindDamaged, 0, 1, 0, key, nil)
		delete(r.expires, key)
	}
}

// resync returns the offset of the next intact command at or after off, or -1.
func resync(b []byte, off int) int {
	for off < len(b) {
		i := bytes.IndexByte(b[off:], '*')
		if i < 0 {
			return -1
		}
		p := off + i
		if c, err := parseCommand(b, p); err == nil && c.check() == "" {
			return p
		}
		off = p + 1
	}
	return -1
}

// findEmbeddedKey looks in a damaged region for a value this package wrote,
// by its checksum, and returns the key it names.
func findEmbeddedKey(region []byte) (string, bool) {
	var ends []int // candidate value ends: before a "\r\n"
	for i := 0; i+1 < len(region); i++ {
		if region[i] == '\r' && region[i+1] == '\n' {
			ends = append(ends, i)
		}
	}
	ends = append(ends, len(region))
	for p := 0; p < len(region); p++ {
		switch region[p] {
		case kindLive, kindTombstone, kindDamaged:
		default:
			continue
		}
		var sum uint32
		from := p
		for _, q := range ends {
			if q-4 <= p+11 {
				continue
			}
			sum = crc32.Update(sum, castagnoli, region[from:q-4])
			from = q - 4
			if sum == binary.BigEndian.Uint32(region[q-4:q]) {
				if v, err := parseValueHeader(string(region[p : q-4])); err == nil && v.key != "" {
					return v.key, true
				}
			}
		}
	}
	return "", false
}

// appendSet appends the RESP command that stores value at key.
func appendSet(b []byte, key, value string, expires int64) []byte {
	if expires != 0 {
		b = append(b, "*5\r\n"...)
	} else {
		b = append(b, "*3\r\n"...)
	}
	b = appendBulk(b, "set")
	b = appendBulk(b, key)
	b = appendBulk(b, value)
	if expires != 0 {
		b = appendBulk(b, "ae")
		b = appendBulk(b, strconv.FormatInt(expires, 10))
	}
	return b
}

func appendBulk(b []byte, s string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '\r', '\n')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// standalone re-encodes a value written by a batch as a single write, for a
// rewritten file where the rest of its batch is no longer beside it.
func standalone(val string) string {
	v, err := decodeValue(val)
	if err != nil || v.count == 1 {
		return val
	}
	return encodeValue(v.kind, v.expires, 1, 0, v.key, []byte(v.payload))
}

// sortedKeys lists the replayed keys in order, for a deterministic rewrite.
func (r *replayed) sortedKeys() []string {
	keys := make([]string, 0, len(r.items))
	for k := range r.items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
