package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

func TestStoreFlags_RefuseWhatTheyCannotUse(t *testing.T) {
	tests := []struct {
		name string
		sf   storeFlags
		want string
	}{
		{"unknown backend", storeFlags{backend: "redis"}, "unknown -storage"},
		{"etcd without endpoints", storeFlags{backend: "etcd", endpoints: " , "}, "needs -etcd-endpoints"},
		{"etcd flags with BuntDB", storeFlags{backend: "bunt", endpoints: "http://127.0.0.1:2379"}, "need -storage etcd"},
		{"etcd prefix without a slash", storeFlags{backend: "etcd", endpoints: "http://127.0.0.1:2379", prefix: "cb"}, "must end with /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := openStore(t.Context(), t.TempDir(), "", true, tt.sf)
			if err == nil {
				s.Close()
				t.Fatal("open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestOpenStore_TwoHostNodesShareOneEtcdCluster opens the sealed store twice
// on one cluster, as two `serve -storage etcd` nodes with the same master
// key would: a record one writes, the other reads.
func TestOpenStore_TwoHostNodesShareOneEtcdCluster(t *testing.T) {
	c := etcdtest.Start(t, 3)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	k, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := seal.WriteKeyFile(keyFile, []*seal.MasterKey{k}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(masterKeyEnv, "")
	open := func(endpoint string) *seal.Store {
		sf := storeFlags{backend: "etcd", endpoints: endpoint, prefix: "cb/"}
		s, err := openStore(t.Context(), t.TempDir(), keyFile, false, sf)
		if err != nil {
			t.Fatalf("openStore: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := open(c.Endpoints[0])
	b := open(c.Endpoints[1] + "," + c.Endpoints[2])
	if err := a.Set(t.Context(), "site-1", storage.KVS, "project:SUP", []byte("settings"), 0); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(t.Context(), "site-1", storage.KVS, "project:SUP")
	if err != nil || string(got) != "settings" {
		t.Fatalf("the other node reads %q, %v", got, err)
	}
}
