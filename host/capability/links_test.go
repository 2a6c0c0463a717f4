package capability

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

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
