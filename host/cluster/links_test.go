package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/medialink"
	"github.com/chatbridge/chatbridge/host/queue"
)

type site struct{ base string }

func (s site) JiraBase(context.Context, string) (string, string, error) {
	return s.base, "Basic x", nil
}

// linkServices joins two hosts to the cluster, each with a link service
// whose installations' site is srv.
func linkServices(t *testing.T, c *testCluster, srv *httptest.Server) []*medialink.Service {
	t.Helper()
	var svcs []*medialink.Service
	for range 2 {
		n := c.join(nil, queue.Config{})
		svc, err := medialink.New(medialink.Config{Store: n.store, Sites: site{srv.URL}, PublicURL: "https://bridge.example",
			HTTP: srv.Client(), Logger: slog.New(slog.DiscardHandler), Claims: n.claim})
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	return svcs
}

// Two hosts on one etcd cluster each serve the download links of the
// other's mints: every link, redeemed through both at once, serves once.
func TestLinks_SingleUseAcrossHosts(t *testing.T) {
	c := newTestCluster(t, 3)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF"))
	}))
	t.Cleanup(srv.Close)
	svcs := linkServices(t, c, srv)
	ctx := context.Background()
	const links, tries = 20, 4 // per host and link
	var served, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range links {
		link, err := svcs[i%2].Mint(ctx, "inst", "10042", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		tok := strings.TrimPrefix(link, "https://bridge.example/dl/")
		for _, svc := range svcs {
			for range tries {
				wg.Go(func() {
					d, err := svc.Open(ctx, tok, true)
					switch {
					case err == nil:
						d.Body.Close()
						served.Add(1)
					case errors.Is(err, medialink.ErrNotFound):
						refused.Add(1)
					default:
						t.Error(err)
					}
				})
			}
		}
	}
	wg.Wait()
	if served.Load() != links || refused.Load() != links*(2*tries-1) {
		t.Fatalf("%d redeems served and %d refused, want %d and %d", served.Load(), refused.Load(), links, links*(2*tries-1))
	}
}

// Two hosts on one etcd cluster take the upload links of the other's
// mints: every link, POSTed to through both at once, reaches the site once.
func TestUploadLinks_SingleUseAcrossHosts(t *testing.T) {
	c := newTestCluster(t, 3)
	var created atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, "not multipart", http.StatusUnsupportedMediaType)
			return
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			_, _ = io.Copy(io.Discard, p)
		}
		n := created.Add(1)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"temporaryAttachments":[{"temporaryAttachmentId":"temp-%d","fileName":"a.txt"}]}`, n)
	}))
	t.Cleanup(srv.Close)
	svcs := linkServices(t, c, srv)
	ctx := context.Background()
	const links, tries = 10, 3 // per host and link
	var took, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range links {
		link, err := svcs[i%2].MintUpload(ctx, "inst", "7", "https://shop.example", "s", "text/plain", 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		tok := strings.TrimPrefix(link, "https://bridge.example/ul/")
		for _, svc := range svcs {
			for range tries {
				wg.Go(func() {
					var b bytes.Buffer
					mw := multipart.NewWriter(&b)
					w, _ := mw.CreateFormFile("file", "a.txt")
					_, _ = w.Write([]byte("hello"))
					_ = mw.Close()
					_, err := svc.Receive(ctx, tok, medialink.Upload{Origin: "https://shop.example", ContentType: mw.FormDataContentType(), Length: int64(b.Len()), Body: &b})
					switch {
					case err == nil:
						took.Add(1)
					case errors.Is(err, medialink.ErrNotFound):
						refused.Add(1)
					default:
						t.Error(err)
					}
				})
			}
		}
	}
	wg.Wait()
	if took.Load() != links || refused.Load() != links*(2*tries-1) || created.Load() != links {
		t.Fatalf("%d uploads taken, %d refused, %d files on the site; want %d, %d and %d", took.Load(), refused.Load(), created.Load(), links, links*(2*tries-1), links)
	}
}
