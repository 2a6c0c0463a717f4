package channel

import (
	"fmt"
	"math"
	"strings"
)

// MapLink is a link to a map centred on a shared location: OpenStreetMap,
// which needs no account and no key (RATIONALE.md, "Why OpenStreetMap
// links for shared locations?"). It is "" for coordinates that are not
// on Earth.
func MapLink(lat, lon float64) string {
	if math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return ""
	}
	return fmt.Sprintf("https://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f#map=17/%.6f/%.6f", lat, lon, lat, lon)
}

// LocationText is a shared location as the agents read it: the place's
// name and address where the messenger tells them, and a map link.
func LocationText(lat, lon float64, name, address string) string {
	link := MapLink(lat, lon)
	if link == "" {
		return ""
	}
	parts := []string{"Location:"}
	for _, s := range []string{name, address} {
		if s = strings.Join(strings.Fields(s), " "); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ") + " " + link
}

// ContactText is a shared contact as the agents read it: the name and the
// phone numbers.
func ContactText(name string, phones ...string) string {
	parts := []string{"Contact:"}
	for _, s := range append([]string{name}, phones...) {
		if s = strings.Join(strings.Fields(s), " "); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 1 {
		return ""
	}
	return strings.Join(parts, " ")
}

// BaseMIME is a MIME type without parameters, in lower case.
func BaseMIME(mime string) string {
	m, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mime)), ";")
	return strings.TrimSpace(m)
}
