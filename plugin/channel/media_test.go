package channel

import "testing"

func TestMapLinkPointsAtTheLocationAndRefusesWhatIsNotOnEarth(t *testing.T) {
	tests := []struct {
		lat, lon float64
		want     string
	}{
		{52.52, 13.405, "https://www.openstreetmap.org/?mlat=52.520000&mlon=13.405000#map=17/52.520000/13.405000"},
		{-33.8688, 151.2093, "https://www.openstreetmap.org/?mlat=-33.868800&mlon=151.209300#map=17/-33.868800/151.209300"},
		{91, 0, ""},
		{0, -181, ""},
	}
	for _, tt := range tests {
		if got := MapLink(tt.lat, tt.lon); got != tt.want {
			t.Errorf("MapLink(%v, %v) = %q, want %q", tt.lat, tt.lon, got, tt.want)
		}
	}
	if got := LocationText(91, 0, "x", "y"); got != "" {
		t.Errorf("a location off the map gives %q", got)
	}
}

func TestContactTextNamesThePersonAndTheirNumbers(t *testing.T) {
	if got := ContactText(" Max  Muster ", "+49 30 1234", "", "+1 555"); got != "Contact: Max Muster +49 30 1234 +1 555" {
		t.Errorf("got %q", got)
	}
	if got := ContactText("", ""); got != "" {
		t.Errorf("an empty contact gives %q", got)
	}
}
