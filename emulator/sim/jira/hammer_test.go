package jira

import (
	"fmt"
	"sync"
	"testing"
)

func TestHammer_ConcurrentAgentsAndBridgeKeepEveryRequestConsistent(t *testing.T) {
	e := newEnv(t, Config{})
	go func() { // drain deliveries
		for range e.hook.got {
		}
	}()
	const requests, perSide = 4, 5
	var keys []string
	for i := range requests {
		a := e.call(t, "POST", "/rest/servicedeskapi/request", map[string]any{"serviceDeskId": "1", "requestTypeId": "10",
			"requestFieldValues": map[string]any{"summary": fmt.Sprintf("r%d", i)}})
		keys = append(keys, a.json["issueKey"].(string))
	}
	var wg sync.WaitGroup
	for _, key := range keys {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perSide {
				e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": fmt.Sprintf("agent %d", i), "public": i%2 == 0})
			}
		}()
		go func() {
			defer wg.Done()
			for i := range perSide {
				if a := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": fmt.Sprintf("bridge %d", i)}); a.status != 201 {
					t.Errorf("%s: %d", key, a.status)
				}
				e.call(t, "GET", "/rest/api/3/issue/"+key, nil)
			}
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, r := range e.requests(t) {
		if len(r.Comments) != 2*perSide {
			t.Errorf("%s has %d comments", r.Key, len(r.Comments))
		}
		for _, c := range r.Comments {
			if ids[c.ID] {
				t.Errorf("comment id %s used twice", c.ID)
			}
			ids[c.ID] = true
		}
	}
}
