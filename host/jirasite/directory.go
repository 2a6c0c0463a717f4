package jirasite

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ServiceDesk is a service desk the account sees.
type ServiceDesk struct {
	ID          string `json:"id"`
	ProjectKey  string `json:"projectKey"`
	ProjectName string `json:"projectName"`
}

// RequestType is a request type a service desk offers.
type RequestType struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// maxPages bounds the pages read of one list (50 entries each).
const maxPages = 40

// ServiceDesks lists the service desks the account sees
// (GET /rest/servicedeskapi/servicedesk, every page).
func ServiceDesks(ctx context.Context, client *http.Client, siteURL, authorization string) ([]ServiceDesk, error) {
	return pages[ServiceDesk](ctx, client, strings.TrimSuffix(siteURL, "/")+"/rest/servicedeskapi/servicedesk", authorization)
}

// RequestTypes lists the request types of a service desk
// (GET /rest/servicedeskapi/servicedesk/{id}/requesttype, every page).
func RequestTypes(ctx context.Context, client *http.Client, siteURL, authorization, serviceDeskID string) ([]RequestType, error) {
	return pages[RequestType](ctx, client, strings.TrimSuffix(siteURL, "/")+"/rest/servicedeskapi/servicedesk/"+url.PathEscape(serviceDeskID)+"/requesttype", authorization)
}

// pages reads a JSM paged list: start and limit in, values and isLastPage out.
func pages[T any](ctx context.Context, client *http.Client, base, authorization string) ([]T, error) {
	out := []T{}
	for p := 0; p < maxPages; p++ {
		var page struct {
			Values     []T  `json:"values"`
			IsLastPage bool `json:"isLastPage"`
		}
		if err := get(ctx, client, fmt.Sprintf("%s?start=%d&limit=50", base, len(out)), authorization, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Values...)
		if page.IsLastPage || len(page.Values) == 0 {
			return out, nil
		}
	}
	return out, nil
}
