package sdk

import (
	"encoding/json"
	"math"
	"runtime"
	"time"
	"unsafe"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// The raw imports of wit/chatbridge.wit. Every pointer is to Go memory that
// stays alive (runtime.KeepAlive) until the import returns; the wasm GC does
// not move objects.

//go:wasmimport chatbridge:plugin/storage@0.1.0 get
func storageGet(key unsafe.Pointer, keyLen uint32) int64

//go:wasmimport chatbridge:plugin/storage@0.1.0 set
func storageSet(key unsafe.Pointer, keyLen uint32, val unsafe.Pointer, valLen uint32, ttlSeconds uint32) int64

//go:wasmimport chatbridge:plugin/storage@0.1.0 delete
func storageDelete(key unsafe.Pointer, keyLen uint32) int64

//go:wasmimport chatbridge:plugin/storage@0.1.0 query
func storageQuery(prefix unsafe.Pointer, prefixLen uint32, cursor unsafe.Pointer, cursorLen uint32, limit uint32) int64

//go:wasmimport chatbridge:plugin/storage@0.1.0 transact
func storageTransact(ops unsafe.Pointer, opsLen uint32) int64

//go:wasmimport chatbridge:plugin/secrets@0.1.0 set
func secretsSet(name unsafe.Pointer, nameLen uint32, val unsafe.Pointer, valLen uint32) int64

//go:wasmimport chatbridge:plugin/secrets@0.1.0 delete
func secretsDelete(name unsafe.Pointer, nameLen uint32) int64

//go:wasmimport chatbridge:plugin/secrets@0.1.0 compare
func secretsCompare(name unsafe.Pointer, nameLen uint32, cand unsafe.Pointer, candLen uint32) int64

//go:wasmimport chatbridge:plugin/secrets@0.1.0 verify-hmac
func secretsVerifyHMAC(name unsafe.Pointer, nameLen uint32, hash uint32, data unsafe.Pointer, dataLen uint32, mac unsafe.Pointer, macLen uint32) int64

//go:wasmimport chatbridge:plugin/fetch@0.1.0 fetch
func fetchFetch(req unsafe.Pointer, reqLen uint32) int64

//go:wasmimport chatbridge:plugin/jira@0.1.0 request
func jiraRequest(req unsafe.Pointer, reqLen uint32) int64

//go:wasmimport chatbridge:plugin/jira@0.1.0 attachment-link
func jiraAttachmentLink(id unsafe.Pointer, idLen uint32, ttlSeconds uint32) int64

//go:wasmimport chatbridge:plugin/jira@0.1.0 upload-link
func jiraUploadLink(desk unsafe.Pointer, deskLen uint32, origin unsafe.Pointer, originLen uint32, subject unsafe.Pointer, subjectLen uint32, mediaType unsafe.Pointer, mediaTypeLen uint32, maxBytes uint32, ttlSeconds uint32) int64

//go:wasmimport chatbridge:plugin/jira@0.1.0 upload-result
func jiraUploadResult(link unsafe.Pointer, linkLen uint32) int64

//go:wasmimport chatbridge:plugin/queue@0.1.0 push
func queuePush(queue unsafe.Pointer, queueLen uint32, orderKey unsafe.Pointer, orderKeyLen uint32, payload unsafe.Pointer, payloadLen uint32, delaySeconds uint32) int64

//go:wasmimport chatbridge:plugin/realtime@0.1.0 publish
func realtimePublish(channel unsafe.Pointer, channelLen uint32, payload unsafe.Pointer, payloadLen uint32) int64

//go:wasmimport chatbridge:plugin/realtime@0.1.0 sign-token
func realtimeSignToken(channel unsafe.Pointer, channelLen uint32, origin unsafe.Pointer, originLen uint32, ttlSeconds uint32) int64

//go:wasmimport chatbridge:plugin/log@0.1.0 write
func logWrite(level int32, msg unsafe.Pointer, msgLen uint32, attrs unsafe.Pointer, attrsLen uint32)

//go:wasmimport chatbridge:plugin/abi@0.1.0 input-read
func inputRead(ptr unsafe.Pointer)

//go:wasmimport chatbridge:plugin/abi@0.1.0 output-write
func outputWrite(ptr unsafe.Pointer, n uint32)

//go:wasmimport chatbridge:plugin/abi@0.1.0 result-read
func resultRead(ptr unsafe.Pointer)

func strPtr(s string) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.StringData(s)), uint32(len(s))
}

func bytesPtr(b []byte) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}

// collect turns an import's result into (pending bytes, error).
func collect(r int64) ([]byte, error) {
	code, n := abi.SplitResult(r)
	if code != abi.OK {
		return nil, code
	}
	if n == 0 {
		return nil, nil
	}
	buf := make([]byte, n)
	resultRead(unsafe.Pointer(&buf[0]))
	return buf, nil
}

// flag turns a bool-returning import's result into (bool, error).
func flag(r int64) (bool, error) {
	code, n := abi.SplitResult(r)
	if code != abi.OK {
		return false, code
	}
	return n == 1, nil
}

func seconds(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	s := (d + time.Second - 1) / time.Second
	if s > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(s)
}

type importStorage struct{}

var _ Transactor = importStorage{}

// Transact implements Transactor: the result is 1 (applied) or 0 (a
// condition failed), with nothing pending.
func (importStorage) Transact(ops []abi.TxnOp) (bool, error) {
	b := abi.Txn(ops).Append(nil)
	p, n := bytesPtr(b)
	code, v := abi.SplitResult(storageTransact(p, n))
	runtime.KeepAlive(b)
	if code != abi.OK {
		return false, code
	}
	return v == 1, nil
}

func (importStorage) Get(key string) ([]byte, error) {
	kp, kn := strPtr(key)
	b, err := collect(storageGet(kp, kn))
	runtime.KeepAlive(key)
	if err == nil && b == nil {
		b = []byte{}
	}
	return b, err
}

func (importStorage) Set(key string, value []byte, ttl time.Duration) error {
	kp, kn := strPtr(key)
	vp, vn := bytesPtr(value)
	_, err := collect(storageSet(kp, kn, vp, vn, seconds(ttl)))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return err
}

func (importStorage) Delete(key string) error {
	kp, kn := strPtr(key)
	_, err := collect(storageDelete(kp, kn))
	runtime.KeepAlive(key)
	return err
}

func (importStorage) Query(prefix, cursor string, limit int) (abi.Page, error) {
	if limit < 0 {
		return abi.Page{}, abi.InvalidArgument
	}
	pp, pn := strPtr(prefix)
	cp, cn := strPtr(cursor)
	b, err := collect(storageQuery(pp, pn, cp, cn, uint32(limit)))
	runtime.KeepAlive(prefix)
	runtime.KeepAlive(cursor)
	var page abi.Page
	if err != nil {
		return page, err
	}
	if err := page.Decode(b); err != nil {
		return page, abi.Internal
	}
	return page, nil
}

type importSecrets struct{}

func (importSecrets) Set(name string, value []byte) error {
	np, nn := strPtr(name)
	vp, vn := bytesPtr(value)
	_, err := collect(secretsSet(np, nn, vp, vn))
	runtime.KeepAlive(name)
	runtime.KeepAlive(value)
	return err
}

func (importSecrets) Delete(name string) error {
	np, nn := strPtr(name)
	_, err := collect(secretsDelete(np, nn))
	runtime.KeepAlive(name)
	return err
}

func (importSecrets) Compare(name string, candidate []byte) (bool, error) {
	np, nn := strPtr(name)
	cp, cn := bytesPtr(candidate)
	ok, err := flag(secretsCompare(np, nn, cp, cn))
	runtime.KeepAlive(name)
	runtime.KeepAlive(candidate)
	return ok, err
}

func (importSecrets) VerifyHMAC(name string, h Hash, data, mac []byte) (bool, error) {
	np, nn := strPtr(name)
	dp, dn := bytesPtr(data)
	mp, mn := bytesPtr(mac)
	ok, err := flag(secretsVerifyHMAC(np, nn, uint32(h), dp, dn, mp, mn))
	runtime.KeepAlive(name)
	runtime.KeepAlive(data)
	runtime.KeepAlive(mac)
	return ok, err
}

// roundTrip sends an encoded request through one of the HTTP-shaped imports.
func roundTrip(call func(unsafe.Pointer, uint32) int64, req *abi.Request) (*abi.Response, error) {
	enc := req.Append(nil)
	p, n := bytesPtr(enc)
	b, err := collect(call(p, n))
	runtime.KeepAlive(enc)
	if err != nil {
		return nil, err
	}
	resp := new(abi.Response)
	if err := resp.Decode(b); err != nil {
		return nil, abi.Internal
	}
	return resp, nil
}

type importFetch struct{}

func (importFetch) Fetch(req *abi.Request) (*abi.Response, error) { return roundTrip(fetchFetch, req) }

type importJira struct{}

func (importJira) Request(req *abi.Request) (*abi.Response, error) {
	return roundTrip(jiraRequest, req)
}

var _ AttachmentLinker = importJira{}

func (importJira) AttachmentLink(attachmentID string, ttl time.Duration) (string, error) {
	ip, in := strPtr(attachmentID)
	b, err := collect(jiraAttachmentLink(ip, in, seconds(ttl)))
	runtime.KeepAlive(attachmentID)
	return string(b), err
}

var _ UploadLinker = importJira{}

func (importJira) UploadLink(serviceDeskID, origin, subject, mediaType string, maxBytes int64, ttl time.Duration) (string, error) {
	if maxBytes < 0 || maxBytes > math.MaxUint32 {
		return "", abi.InvalidArgument
	}
	dp, dn := strPtr(serviceDeskID)
	op, on := strPtr(origin)
	sp, sn := strPtr(subject)
	mp, mn := strPtr(mediaType)
	b, err := collect(jiraUploadLink(dp, dn, op, on, sp, sn, mp, mn, uint32(maxBytes), seconds(ttl)))
	runtime.KeepAlive(serviceDeskID)
	runtime.KeepAlive(origin)
	runtime.KeepAlive(subject)
	runtime.KeepAlive(mediaType)
	return string(b), err
}

func (importJira) UploadResult(link string) (UploadResult, error) {
	lp, ln := strPtr(link)
	b, err := collect(jiraUploadResult(lp, ln))
	runtime.KeepAlive(link)
	if err != nil {
		return UploadResult{}, err
	}
	var r UploadResult
	if err := json.Unmarshal(b, &r); err != nil {
		return UploadResult{}, abi.Internal
	}
	return r, nil
}

type importQueue struct{}

func (importQueue) Push(queue, orderKey string, payload []byte, delay time.Duration) error {
	qp, qn := strPtr(queue)
	kp, kn := strPtr(orderKey)
	pp, pn := bytesPtr(payload)
	_, err := collect(queuePush(qp, qn, kp, kn, pp, pn, seconds(delay)))
	runtime.KeepAlive(queue)
	runtime.KeepAlive(orderKey)
	runtime.KeepAlive(payload)
	return err
}

type importRealtime struct{}

func (importRealtime) Publish(channel string, payload []byte) error {
	cp, cn := strPtr(channel)
	pp, pn := bytesPtr(payload)
	_, err := collect(realtimePublish(cp, cn, pp, pn))
	runtime.KeepAlive(channel)
	runtime.KeepAlive(payload)
	return err
}

func (importRealtime) SignToken(channel, origin string, ttl time.Duration) (string, error) {
	cp, cn := strPtr(channel)
	op, on := strPtr(origin)
	b, err := collect(realtimeSignToken(cp, cn, op, on, seconds(ttl)))
	runtime.KeepAlive(channel)
	runtime.KeepAlive(origin)
	return string(b), err
}

func writeLog(level int32, msg string, attrs []abi.Header) {
	enc := abi.AppendHeaders(nil, attrs)
	mp, mn := strPtr(msg)
	ap, an := bytesPtr(enc)
	logWrite(level, mp, mn, ap, an)
	runtime.KeepAlive(msg)
	runtime.KeepAlive(enc)
}

// env is the one Env of a wasm instance; its members hold no state.
var env = &Env{
	Storage:  importStorage{},
	Secrets:  importSecrets{},
	Fetch:    importFetch{},
	Jira:     importJira{},
	Queue:    importQueue{},
	Realtime: importRealtime{},
	Log:      NewLogger(writeLog),
}
