package etcdlocal_test

import (
	"errors"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdlocal"
)

func TestStart_ServesWritesAndStopLeavesNothingBehind(t *testing.T) {
	if etcdlocal.Binary() == "" {
		t.Fatal(etcdlocal.ErrNoBinary)
	}
	dir := t.TempDir()
	c, err := etcdlocal.Start(t.Context(), 1, etcdlocal.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = c.Stop()
		}
	}()
	u, err := url.Parse(c.Endpoints[0])
	if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
		t.Fatalf("endpoint %q (%v): want http on 127.0.0.1", c.Endpoints[0], err)
	}
	d, err := etcd.Open(t.Context(), etcd.Config{Endpoints: c.Endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(t.Context(), "k", []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	rec, err := d.Get(t.Context(), "k")
	if err != nil || string(rec.Value) != "v" {
		t.Fatalf("Get = %q, %v; want v", rec.Value, err)
	}
	d.Close()

	stopped = true
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Stop", u.Host)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Fatalf("after Stop %s holds %d entries (%v), want none", dir, len(left), err)
	}
}

func TestStart_WithoutTheBinarySaysHowToInstallIt(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := etcdlocal.Start(t.Context(), 1, etcdlocal.Options{Dir: t.TempDir()}); !errors.Is(err, etcdlocal.ErrNoBinary) {
		t.Fatalf("err %v, want ErrNoBinary", err)
	}
}
