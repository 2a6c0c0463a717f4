package capability

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/medialink"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// fakeMinter records what it was asked and answers a fixed URL.
type fakeMinter struct {
	installation, id string
	ttl              time.Duration
	calls            int
	err              error
}

func (f *fakeMinter) Mint(_ context.Context, installation, id string, ttl time.Duration) (string, error) {
	f.calls++
	f.installation, f.id, f.ttl = installation, id, ttl
	if f.err != nil {
		return "", f.err
	}
	return "https://bridge.example/dl/TOKEN", nil
}

// linkCall runs attachment-link with id in guest memory.
func linkCall(t *testing.T, p Policy, links LinkMinter, id string, ttl uint32) (abi.Code, *Call) {
	t.Helper()
	h, m := fuzzHost(t)
	h.policy = p
	if links != nil {
		h.deps.Links = links
	}
	m.Memory().Write(0, []byte(id))
	call := &Call{Installation: "inst-1", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	code, _ := abi.SplitResult(h.attachmentLink(WithCall(context.Background(), call), m, 0, uint32(len(id)), ttl))
	return code, call
}

func TestAttachmentLinkRefusesIDsThatAreNotJiraAttachmentIDs(t *testing.T) {
	for _, id := range []string{"", "abc", "12a", "0123", "-1", "1.5", " 12", "10001/../2", "{{secret:t}}", strings.Repeat("9", 20)} {
		t.Run(id, func(t *testing.T) {
			f := &fakeMinter{}
			if code, _ := linkCall(t, allowAll{}, f, id, 0); code != abi.InvalidArgument {
				t.Errorf("id %q: %v, want invalid-argument", id, code)
			}
			if f.calls != 0 {
				t.Errorf("id %q reached the minter", id)
			}
		})
	}
}

func TestAttachmentLinkTTLBounds(t *testing.T) {
	for _, tc := range []struct {
		ttl  uint32
		code abi.Code
		want time.Duration
	}{
		{0, abi.OK, 15 * time.Minute},
		{1, abi.OK, time.Second},
		{3600, abi.OK, time.Hour},
		{3601, abi.InvalidArgument, 0},
		{1 << 31, abi.InvalidArgument, 0},
	} {
		f := &fakeMinter{}
		code, call := linkCall(t, allowAll{}, f, "10042", tc.ttl)
		if code != tc.code {
			t.Errorf("ttl %d: %v, want %v", tc.ttl, code, tc.code)
			continue
		}
		if code != abi.OK {
			if f.calls != 0 {
				t.Errorf("ttl %d reached the minter", tc.ttl)
			}
			continue
		}
		if f.ttl != tc.want || f.id != "10042" || f.installation != "inst-1" {
			t.Errorf("ttl %d: minted %+v", tc.ttl, f)
		}
		if string(call.pending) != "https://bridge.example/dl/TOKEN" {
			t.Errorf("pending %q", call.pending)
		}
	}
}

func TestAttachmentLinkNeedsTheJiraCapabilityAndALinkService(t *testing.T) {
	if code, _ := linkCall(t, only{"storage"}, &fakeMinter{}, "10042", 0); code != abi.AccessDenied {
		t.Errorf("without jira: %v", code)
	}
	if code, _ := linkCall(t, allowAll{}, nil, "10042", 0); code != abi.Unavailable {
		t.Errorf("without a link service: %v", code)
	}
	if code, _ := linkCall(t, allowAll{}, &fakeMinter{err: abi.NotFound}, "10042", 0); code != abi.NotFound {
		t.Errorf("minter's not-found: %v", code)
	}
	if code, _ := linkCall(t, allowAll{}, &fakeMinter{err: errors.New("disk on fire")}, "10042", 0); code != abi.Internal {
		t.Errorf("minter's failure: %v", code)
	}
}

func TestAttachmentLinksCountAgainstTheCallsRequestLimit(t *testing.T) {
	h, m := fuzzHost(t)
	h.deps.Links = &fakeMinter{}
	h.limits.FetchesPerCall = 2
	m.Memory().Write(0, []byte("7"))
	call := &Call{Installation: "inst-1", Log: h.deps.Logger}
	ctx := WithCall(context.Background(), call)
	for i, want := range []abi.Code{abi.OK, abi.OK, abi.LimitExceeded} {
		if code, _ := abi.SplitResult(h.attachmentLink(ctx, m, 0, 1, 60)); code != want {
			t.Errorf("link %d: %v, want %v", i+1, code, want)
		}
	}
}

// FuzzAttachmentLink feeds attachment-link any guest memory, pointer, length
// and TTL: the answer is a result code (or the out-of-bounds trap), and only
// a decimal id within the TTL bounds reaches the minter.
func FuzzAttachmentLink(f *testing.F) {
	f.Add([]byte("10042"), uint32(0), uint32(5), uint32(0))
	f.Add([]byte("00042"), uint32(0), uint32(5), uint32(60))
	f.Add([]byte("1{{secret:x}}"), uint32(0), uint32(13), uint32(3600))
	f.Add([]byte{}, uint32(65535), uint32(2), uint32(1))
	h, m := fuzzHost(f)
	minter := &fakeMinter{}
	h.deps.Links = minter
	f.Fuzz(func(t *testing.T, mem []byte, ptr, n, ttl uint32) {
		if len(mem) > 65536 {
			mem = mem[:65536]
		}
		m.Memory().Write(0, make([]byte, 65536))
		m.Memory().Write(0, mem)
		call := &Call{Installation: "fuzz", Log: h.deps.Logger}
		before := minter.calls
		defer func() {
			if r := recover(); r != nil {
				if err, ok := r.(error); !ok || !errors.Is(err, errOutOfBounds) {
					t.Fatalf("panic %v", r)
				}
			}
		}()
		code, _ := abi.SplitResult(h.attachmentLink(WithCall(context.Background(), call), m, ptr, n, ttl))
		if minter.calls != before {
			if code != abi.OK || !decimal(minter.id) || minter.ttl <= 0 || minter.ttl > time.Hour {
				t.Fatalf("minted id %q ttl %v, code %v", minter.id, minter.ttl, code)
			}
		} else if code == abi.OK {
			t.Fatal("ok without a link")
		}
	})
}

// fakeUploads records what upload-link was asked and answers a fixed URL;
// upload-result answers result for the link it minted.
type fakeUploads struct {
	installation, desk, origin, subject string
	mediaType                           string
	max                                 int64
	ttl                                 time.Duration
	calls                               int
}

func (f *fakeUploads) MintUpload(_ context.Context, installation, desk, origin, subject, mediaType string, max int64, ttl time.Duration) (string, error) {
	f.calls++
	f.installation, f.desk, f.origin, f.subject, f.mediaType, f.max, f.ttl = installation, desk, origin, subject, mediaType, max, ttl
	return "https://bridge.example/ul/TOKEN", nil
}

func (f *fakeUploads) UploadResult(_ context.Context, installation, link string) ([]byte, error) {
	if installation != "inst-1" || link != "https://bridge.example/ul/TOKEN" {
		return nil, medialink.ErrNotFound
	}
	return []byte(`{"subject":"s"}`), nil
}

func TestUploadLinkPassesItsBoundsToTheServiceAndRefusesWhatIsOutOfThem(t *testing.T) {
	type args struct {
		desk, origin, subject, mediaType string
		max, ttl                         uint32
	}
	for _, tc := range []struct {
		name string
		a    args
		code abi.Code
	}{
		{"ok", args{"7", "https://shop.example", "chat:f1", "image/png", 1 << 20, 0}, abi.OK},
		{"desk not a number", args{"7a", "https://shop.example", "s", "image/png", 0, 0}, abi.InvalidArgument},
		{"no desk", args{"", "https://shop.example", "s", "image/png", 0, 0}, abi.InvalidArgument},
		{"origin with a path", args{"7", "https://shop.example/x", "s", "image/png", 0, 0}, abi.InvalidArgument},
		{"no origin", args{"7", "", "s", "image/png", 0, 0}, abi.InvalidArgument},
		{"no subject", args{"7", "https://shop.example", "", "image/png", 0, 0}, abi.InvalidArgument},
		{"long subject", args{"7", "https://shop.example", strings.Repeat("s", abi.MaxUploadSubjectLen+1), "image/png", 0, 0}, abi.InvalidArgument},
		{"no media type", args{"7", "https://shop.example", "s", "", 0, 0}, abi.InvalidArgument},
		{"a media type with parameters", args{"7", "https://shop.example", "s", "text/plain; charset=utf-8", 0, 0}, abi.InvalidArgument},
		{"a media type in upper case", args{"7", "https://shop.example", "s", "Image/PNG", 0, 0}, abi.InvalidArgument},
		{"a media type over the bound", args{"7", "https://shop.example", "s", "image/" + strings.Repeat("x", abi.MaxUploadMediaTypeLen), 0, 0}, abi.InvalidArgument},
		{"ttl over the bound", args{"7", "https://shop.example", "s", "image/png", 0, abi.MaxUploadLinkTTL + 1}, abi.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, m := fuzzHost(t)
			f := &fakeUploads{}
			h.deps.Uploads = f
			mem := tc.a.desk + tc.a.origin + tc.a.subject + tc.a.mediaType
			m.Memory().Write(0, []byte(mem))
			dn, on, sn, mn := uint32(len(tc.a.desk)), uint32(len(tc.a.origin)), uint32(len(tc.a.subject)), uint32(len(tc.a.mediaType))
			call := &Call{Installation: "inst-1", Log: h.deps.Logger}
			code, _ := abi.SplitResult(h.uploadLink(WithCall(context.Background(), call), m, 0, dn, dn, on, dn+on, sn, dn+on+sn, mn, tc.a.max, tc.a.ttl))
			if code != tc.code {
				t.Fatalf("%v, want %v", code, tc.code)
			}
			if code != abi.OK {
				if f.calls != 0 {
					t.Errorf("an argument out of bounds reached the service")
				}
				return
			}
			if f.installation != "inst-1" || f.desk != "7" || f.origin != "https://shop.example" || f.subject != "chat:f1" || f.mediaType != "image/png" ||
				f.max != 1<<20 || f.ttl != abi.DefaultUploadLinkTTL*time.Second {
				t.Errorf("minted %+v", f)
			}
			if string(call.pending) != "https://bridge.example/ul/TOKEN" {
				t.Errorf("pending %q", call.pending)
			}
		})
	}
}

// The host makes the service desk's call for the module: a manifest whose
// scopes do not allow attachTemporaryFile gets no link.
func TestUploadLinkNeedsTheScopesOfAttachTemporaryFile(t *testing.T) {
	h, m := fuzzHost(t)
	f := &fakeUploads{}
	h.deps.Uploads = f
	h.policy = only{"jira"} // the capability, no scope
	mem := "7https://shop.examplesimage/png"
	m.Memory().Write(0, []byte(mem))
	call := &Call{Installation: "inst-1", Log: h.deps.Logger}
	if code, _ := abi.SplitResult(h.uploadLink(WithCall(context.Background(), call), m, 0, 1, 1, 20, 21, 1, 22, 9, 0, 0)); code != abi.AccessDenied || f.calls != 0 {
		t.Errorf("without the scopes: %v, %d links", code, f.calls)
	}
}

func TestUploadResultAnswersOnlyTheInstallationsOwnLink(t *testing.T) {
	h, m := fuzzHost(t)
	h.deps.Uploads = &fakeUploads{}
	link := "https://bridge.example/ul/TOKEN"
	m.Memory().Write(0, []byte(link))
	for inst, want := range map[string]abi.Code{"inst-1": abi.OK, "inst-2": abi.NotFound} {
		call := &Call{Installation: inst, Log: h.deps.Logger}
		if code, _ := abi.SplitResult(h.uploadResult(WithCall(context.Background(), call), m, 0, uint32(len(link)))); code != want {
			t.Errorf("%s: %v, want %v", inst, code, want)
		}
	}
	h.policy = only{"storage"}
	call := &Call{Installation: "inst-1", Log: h.deps.Logger}
	if code, _ := abi.SplitResult(h.uploadResult(WithCall(context.Background(), call), m, 0, uint32(len(link)))); code != abi.AccessDenied {
		t.Errorf("without jira: %v", code)
	}
	h.policy, h.deps.Uploads = allowAll{}, nil
	if code, _ := abi.SplitResult(h.uploadResult(WithCall(context.Background(), call), m, 0, uint32(len(link)))); code != abi.Unavailable {
		t.Errorf("without upload links: %v", code)
	}
}

// The bundle's app.uploads.maxBytes: a link asked for with 0 takes it, one
// asked for more is invalid-argument and never minted.
func TestUploadLinkHoldsTheManifestsUploadLimit(t *testing.T) {
	for _, tc := range []struct {
		asked uint32
		code  abi.Code
		want  int64
	}{
		{0, abi.OK, 4096},
		{100, abi.OK, 100},
		{4096, abi.OK, 4096},
		{4097, abi.InvalidArgument, 0},
	} {
		h, m := fuzzHost(t)
		f := &fakeUploads{}
		h.deps.Uploads, h.deps.UploadBytes = f, 4096
		m.Memory().Write(0, []byte("7https://shop.examplesimage/png"))
		call := &Call{Installation: "inst-1", Log: h.deps.Logger}
		code, _ := abi.SplitResult(h.uploadLink(WithCall(context.Background(), call), m, 0, 1, 1, 20, 21, 1, 22, 9, tc.asked, 0))
		if code != tc.code || (code == abi.OK && f.max != tc.want) || (code != abi.OK && f.calls != 0) {
			t.Errorf("asked %d: %v, minted %d bytes (%d calls); want %v, %d", tc.asked, code, f.max, f.calls, tc.code, tc.want)
		}
	}
}
