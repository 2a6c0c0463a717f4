package main

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

// scaffoldFiles are the templates `chatbridge new` writes, each without its
// .tmpl suffix; their fields are written <<.Name>>, because Go's composite
// literals are full of {{.
//
//go:embed scaffold/*.tmpl
var scaffoldFiles embed.FS

// sdkModule is the module path of the ChatBridge SDK (this repository).
const sdkModule = "github.com/chatbridge/chatbridge"

var scaffoldName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// scaffold is what the templates are filled with.
type scaffold struct {
	Name      string // the app id's last part and the display name
	Module    string // the plugin's Go module path
	SDK       string // the ChatBridge checkout the replace directive points at
	GoVersion string // the checkout's go directive
}

func runNew(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("new", stderr)
	name := fs.String("name", "", "the app's name, [a-z][a-z0-9-]*: its id is ari:cloud:ecosystem::app/NAME (default: DIR's base name)")
	module := fs.String("module", "", "the plugin's Go module path (default: example.com/NAME)")
	sdk := fs.String("sdk", "", "a checkout of the ChatBridge repository, the SDK's source (default: the one holding the current directory or DIR)")
	tidy := fs.Bool("tidy", true, "run go mod tidy in DIR after writing it (needs the go command)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: chatbridge new [-name NAME] [-module PATH] [-sdk CHECKOUT] DIR\n\nWrites a minimal plugin into DIR (which must not exist or be empty): go.mod,\nmain.go (a web trigger with a storage counter, a queue consumer, a scheduled\ntrigger), main_test.go (sdktest) and manifest.yml. docs/vendors.md goes on from there.")
		return errUsage
	}
	dir := fs.Arg(0)
	s := scaffold{Name: *name, Module: *module}
	if s.Name == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		s.Name = strings.ToLower(filepath.Base(abs))
	}
	if !scaffoldName.MatchString(s.Name) {
		return fmt.Errorf("the name %q must match [a-z][a-z0-9-]{0,63}: give -name", s.Name)
	}
	if s.Module == "" {
		s.Module = "example.com/" + s.Name
	}
	var err error
	if s.SDK, s.GoVersion, err = findSDK(*sdk, dir); err != nil {
		return err
	}
	if err := emptyDir(dir); err != nil {
		return err
	}
	if err := s.write(dir); err != nil {
		return err
	}
	if *tidy {
		goBin, err := goCommand()
		if err != nil {
			return err
		}
		cmd := exec.Command(goBin, "mod", "tidy")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go mod tidy in %s: %v\n%s", dir, err, bytes.TrimSpace(out))
		}
	}
	fmt.Fprintf(stdout, "wrote the plugin %s in %s (SDK from %s)\nnext: cd %s && go test ./... && chatbridge bundle build -o bundle .\n",
		s.Name, dir, s.SDK, shellWord(dir))
	return nil
}

// write fills every template into dir.
func (s scaffold) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := scaffoldFiles.ReadDir("scaffold")
	if err != nil {
		return err
	}
	for _, e := range entries {
		raw, err := scaffoldFiles.ReadFile("scaffold/" + e.Name())
		if err != nil {
			return err
		}
		t, err := template.New(e.Name()).Delims("<<", ">>").Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, s); err != nil {
			return err
		}
		path := filepath.Join(dir, strings.TrimSuffix(e.Name(), ".tmpl"))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, werr := f.Write(buf.Bytes())
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
	}
	return nil
}

// emptyDir fails unless dir is missing or empty: new never overwrites.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty: chatbridge new writes only into a new or empty folder", dir)
	}
	return nil
}

// findSDK returns the absolute path and go version of a ChatBridge checkout:
// flag when given, else the first folder holding the current directory or
// dir whose go.mod is the module's.
func findSDK(flag, dir string) (string, string, error) {
	if flag != "" {
		abs, err := filepath.Abs(flag)
		if err != nil {
			return "", "", err
		}
		v, ok := sdkGoVersion(abs)
		if !ok {
			return "", "", fmt.Errorf("-sdk %s: no go.mod of %s there", flag, sdkModule)
		}
		return abs, v, nil
	}
	for _, start := range []string{".", dir} {
		abs, err := filepath.Abs(start)
		if err != nil {
			return "", "", err
		}
		for d := abs; ; d = filepath.Dir(d) {
			if v, ok := sdkGoVersion(d); ok {
				return d, v, nil
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	return "", "", fmt.Errorf("no ChatBridge checkout holds the current directory or %s: give -sdk, the folder you cloned the ChatBridge repository into", dir)
}

// sdkGoVersion reads dir/go.mod and reports its go version when its module
// is the SDK's.
func sdkGoVersion(dir string) (string, bool) {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", false
	}
	defer f.Close()
	var module, version string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" {
			module = fields[1]
		}
		if len(fields) == 2 && fields[0] == "go" {
			version = fields[1]
		}
	}
	return version, module == sdkModule && version != ""
}
