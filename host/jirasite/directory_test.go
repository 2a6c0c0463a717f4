package jirasite

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestServiceDesksReadsEveryPage(t *testing.T) {
	const total = 120
	pagesServed := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Basic x" || r.URL.Path != "/rest/servicedeskapi/servicedesk" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("start"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		pagesServed++
		var values []ServiceDesk
		for i := start; i < total && i < start+limit; i++ {
			values = append(values, ServiceDesk{ID: strconv.Itoa(i), ProjectKey: fmt.Sprintf("P%d", i), ProjectName: "n"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"values": values, "isLastPage": start+limit >= total, "start": start, "limit": limit, "size": len(values)})
	}))
	defer srv.Close()
	desks, err := ServiceDesks(t.Context(), srv.Client(), srv.URL, "Basic x")
	if err != nil || len(desks) != total || desks[total-1].ID != strconv.Itoa(total-1) || pagesServed != 3 {
		t.Fatalf("%d desks in %d pages: %v", len(desks), pagesServed, err)
	}
	if _, err := ServiceDesks(t.Context(), srv.Client(), srv.URL, "Basic wrong"); err == nil {
		t.Fatal("refused credentials gave no error")
	}
}
