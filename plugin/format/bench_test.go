package format

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func readTestdata(b *testing.B, parts ...string) []byte {
	b.Helper()
	src, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		b.Fatal(err)
	}
	return src
}

// BenchmarkWikiToTelegramHTML converts a typical comment (blocks, lists,
// links, code) and a 10,000-character reply.
func BenchmarkWikiToTelegramHTML(b *testing.B) {
	for _, name := range []string{"blocks.wiki", "long_reply.wiki"} {
		wiki := string(readTestdata(b, "wiki", name))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(wiki)))
			for b.Loop() {
				WikiToTelegramHTML(wiki)
			}
		})
	}
}

// BenchmarkSplit splits the 10,000-character reply at Telegram's limit, and
// a message that already fits (the common case).
func BenchmarkSplit(b *testing.B) {
	long := WikiToTelegramHTML(string(readTestdata(b, "wiki", "long_reply.wiki")))
	short := WikiToTelegramHTML(string(readTestdata(b, "wiki", "blocks.wiki")))
	for _, tc := range []struct{ name, html string }{{"long_reply", long}, {"fits", short}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.html)))
			for b.Loop() {
				SplitTelegramHTML(tc.html, TelegramLimit)
			}
		})
	}
	text := string(readTestdata(b, "wiki", "long_reply.wiki"))
	b.Run("text_viber", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			SplitText(text, 4000, nil)
		}
	})
}

func BenchmarkADFToTelegramHTML(b *testing.B) {
	adf := readTestdata(b, "adf", "invalid_blocks.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(adf)))
	for b.Loop() {
		if _, err := ADFToTelegramHTML(adf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTelegramToWiki(b *testing.B) {
	var msg telegramMessage
	if err := json.Unmarshal(readTestdata(b, "telegram", "links.json"), &msg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg.Text)))
	for b.Loop() {
		TelegramToWiki(msg.Text, msg.Entities)
	}
}
