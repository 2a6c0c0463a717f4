package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

// Node is what the node-wide operations need beside the runtime: the
// sealed store (backups, master key rotation), where its master keys come
// from, and the bundle directory that a reload reads. A zero Node leaves
// those endpoints answering 501.
type Node struct {
	// Store is the node's sealed store.
	Store *seal.Store
	// MasterKeyFile is the key file the store's master keys came from; empty
	// when they came from seal.EnvMasterKey, whose keeper writes them.
	MasterKeyFile string
	// BundleDir is the -bundle directory: a reload loads what is there now.
	BundleDir string
	// Cluster, on a node of a cluster, reads the other nodes' reports:
	// GET /admin/queue then shows the whole cluster's queue. Nil: this
	// node's alone.
	Cluster Reports
}

// KeyRotation is the answer to POST /admin/keys/rotate.
type KeyRotation struct {
	// Primary is the new primary master key's ID.
	Primary string `json:"primary"`
	// InUse lists the IDs of the master keys that still wrap a key after the
	// rotation: only Primary when it finished.
	InUse []string `json:"inUse"`
	// KeyFile is the key file rewritten, when the keys come from one.
	KeyFile string `json:"keyFile,omitempty"`
}

// RotateRequest is the body of POST /admin/keys/rotate. With a key file it
// is empty: the node makes the key. With keys from the environment, Key is
// the new master key (base64) the operator has already added, first, to
// the environment's list for the next start.
type RotateRequest struct {
	Key string `json:"key,omitempty"`
}

// BundleView is what the API shows of the running bundle.
type BundleView struct {
	App            string `json:"app"`
	Signer         string `json:"signer"`
	ManifestSHA256 string `json:"manifestSha256"`
	ModuleSHA256   string `json:"moduleSha256"`
	// Dir is the directory a reload loads from: serve's -bundle, or the
	// emulator's signed copy of it.
	Dir string `json:"dir"`
}

// nodeOps serves the node-wide endpoints. rotating serialises rotations
// and reloads: two at once would race on the key file, or load bundles in
// an order nobody asked for.
type nodeOps struct {
	h        *host.Host
	n        Node
	rotating sync.Mutex
}

func (o *nodeOps) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/backup", o.backup)
	mux.HandleFunc("POST /admin/keys/rotate", o.rotateKeys)
	mux.HandleFunc("GET /admin/bundle", func(w http.ResponseWriter, r *http.Request) {
		b := o.h.Bundle()
		if b == nil {
			writeError(w, http.StatusServiceUnavailable, "no bundle loaded")
			return
		}
		writeJSON(w, http.StatusOK, o.bundleView(b))
	})
	mux.HandleFunc("POST /admin/bundle/reload", o.reload)
}

func (o *nodeOps) bundleView(b *bundle.Bundle) BundleView {
	return BundleView{App: b.Manifest.App.ID, Signer: b.Signer, ManifestSHA256: b.ManifestSHA256, ModuleSHA256: b.ModuleSHA256, Dir: o.n.BundleDir}
}

// backup streams a consistent snapshot of the store, still sealed. A
// failure after the first byte can only cut the stream short, which the
// snapshot format's trailer makes restore refuse.
func (o *nodeOps) backup(w http.ResponseWriter, r *http.Request) {
	if o.n.Store == nil {
		writeError(w, http.StatusNotImplemented, "backups are not available on this node")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="chatbridge.backup"`)
	if err := o.n.Store.Backup(r.Context(), w); err != nil {
		o.h.Logger().Error("backup failed", "err", err.Error())
		// The status line may be out already: abort the connection so that
		// the client sees a cut stream, never a complete-looking one.
		panic(http.ErrAbortHandler)
	}
}

// rotateKeys makes a new primary master key and re-wraps every wrapped key
// under it while the node serves. The old keys stay usable, and in the key
// file, until nothing is wrapped by them.
func (o *nodeOps) rotateKeys(w http.ResponseWriter, r *http.Request) {
	var req RotateRequest
	if !decode(w, r, &req) {
		return
	}
	if o.n.Store == nil {
		writeError(w, http.StatusNotImplemented, "key rotation is not available on this node")
		return
	}
	o.rotating.Lock()
	defer o.rotating.Unlock()
	// Not the request's context: a client that goes away must not leave the
	// key file half-way (which is safe, but needs another run to finish).
	ctx := context.WithoutCancel(r.Context())
	var (
		k   *seal.MasterKey
		err error
	)
	switch {
	case o.n.MasterKeyFile != "" && req.Key != "":
		writeError(w, http.StatusBadRequest, "this node reads its master keys from "+o.n.MasterKeyFile+": it makes the new key itself; send no key")
		return
	case o.n.MasterKeyFile != "":
		k, err = seal.RotateKeyFile(ctx, o.n.Store, o.n.MasterKeyFile)
	case req.Key == "":
		writeError(w, http.StatusBadRequest, "this node reads its master keys from "+seal.EnvMasterKey+": make a key (`chatbridge keys new -out -`), put it first in that variable's list for the next start, and send it")
		return
	default:
		if k, err = seal.ParseMasterKey(req.Key); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		err = o.n.Store.RotateMasterKey(ctx, k)
	}
	if err != nil {
		o.h.Logger().Error("master key rotation failed", "err", err.Error())
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("rotation failed (the old keys still open everything; run it again): %v", err))
		return
	}
	inUse, err := o.n.Store.MasterKeysInUse(ctx)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "rotation done, but the keys in use could not be listed")
		return
	}
	o.h.Logger().Info("master key rotated", "primary", k.ID(), "in_use", len(inUse))
	writeJSON(w, http.StatusOK, KeyRotation{Primary: k.ID(), InUse: inUse, KeyFile: o.n.MasterKeyFile})
}

// reload loads the bundle now in BundleDir: its signatures are checked
// before anything is compiled, calls under way finish on the old bundle,
// and the queue, which lives in the store, carries on under the new one.
// A bundle that fails any check leaves the old one running.
func (o *nodeOps) reload(w http.ResponseWriter, r *http.Request) {
	if o.n.BundleDir == "" {
		writeError(w, http.StatusNotImplemented, "bundle reload is not available on this node")
		return
	}
	o.rotating.Lock()
	defer o.rotating.Unlock()
	if err := o.h.Load(context.WithoutCancel(r.Context()), o.n.BundleDir); err != nil {
		// bundle.Open checks the signatures before anything compiles.
		o.h.Logger().Warn("bundle reload refused", "err", err.Error())
		writeError(w, http.StatusUnprocessableEntity, "refused; the running bundle serves on: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, o.bundleView(o.h.Bundle()))
}
