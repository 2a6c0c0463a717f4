package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// Service is one simulator as the admin listener sees it; *telegram.Sim and
// *jira.Sim are Services.
type Service interface {
	// Name is the service's name in control paths and fault rules:
	// "telegram" or "jira".
	Name() string
	// Control serves /_sim/<Name>/... and /_sim/fail for this service.
	Control() http.Handler
}

// maxControlBody bounds a /_sim/fail body read for dispatch.
const maxControlBody = 1 << 20

// Control combines the control APIs of several simulators into one handler
// for the admin listener: /_sim/<name>/... goes to the simulator of that
// name, and /_sim/fail to the one its "service" names (POST: the JSON body;
// GET and DELETE: the ?service= query, or every simulator when absent).
func Control(services ...Service) http.Handler {
	byName := make(map[string]Service, len(services))
	mux := http.NewServeMux()
	for _, s := range services {
		byName[s.Name()] = s
		mux.Handle("/_sim/"+s.Name()+"/", s.Control())
	}
	mux.HandleFunc("GET /_sim/activity", func(w http.ResponseWriter, _ *http.Request) {
		var sum simctl.Activity
		for _, s := range services {
			if a, ok := s.(interface{ Activity() simctl.Activity }); ok {
				sum = sum.Add(a.Activity())
			}
		}
		simctl.WriteJSON(w, http.StatusOK, sum)
	})
	mux.HandleFunc("/_sim/fail", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody))
			if err != nil {
				simctl.WriteError(w, http.StatusBadRequest, err.Error())
				return
			}
			var head struct {
				Service string `json:"service"`
			}
			if err := json.Unmarshal(body, &head); err != nil {
				simctl.WriteError(w, http.StatusBadRequest, "simctl: "+err.Error())
				return
			}
			s, ok := byName[head.Service]
			if !ok {
				simctl.WriteError(w, http.StatusBadRequest, "simctl: unknown service "+strconv.Quote(head.Service)+" (have "+names(services)+")")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			s.Control().ServeHTTP(w, r)
			return
		}
		if name := r.URL.Query().Get("service"); name != "" {
			s, ok := byName[name]
			if !ok {
				simctl.WriteError(w, http.StatusBadRequest, "simctl: unknown service "+strconv.Quote(name))
				return
			}
			s.Control().ServeHTTP(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			all := []simctl.Rule{}
			for _, s := range services {
				rec := &recorder{header: http.Header{}}
				s.Control().ServeHTTP(rec, r)
				var rules []simctl.Rule
				if json.Unmarshal(rec.body.Bytes(), &rules) == nil {
					all = append(all, rules...)
				}
			}
			simctl.WriteJSON(w, http.StatusOK, all)
		case http.MethodDelete:
			for _, s := range services {
				s.Control().ServeHTTP(&recorder{header: http.Header{}}, r)
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			simctl.WriteError(w, http.StatusMethodNotAllowed, "method not allowed")
		}
	})
	mux.HandleFunc("/_sim/", func(w http.ResponseWriter, r *http.Request) {
		simctl.WriteError(w, http.StatusNotFound, "no simulator serves "+r.URL.Path)
	})
	return mux
}

func names(services []Service) string {
	n := make([]string, len(services))
	for i, s := range services {
		n[i] = strconv.Quote(s.Name())
	}
	return strings.Join(n, ", ")
}

// recorder collects one sub-answer of a fan-out.
type recorder struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }
