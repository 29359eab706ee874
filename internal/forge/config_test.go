package forge

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHTTPClient(t *testing.T) {
	tr := &http.Transport{}
	tests := []struct {
		name        string
		in          *http.Client
		wantTimeout time.Duration
	}{
		{"nil", nil, DefaultTimeout},
		{"no timeout", &http.Client{Transport: tr}, DefaultTimeout},
		{"own timeout", &http.Client{Transport: tr, Timeout: 2 * time.Second}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before http.Client
			if tt.in != nil {
				before = *tt.in
			}
			got := HTTPClient(tt.in)
			if got == nil || got == tt.in {
				t.Fatalf("HTTPClient returned %p for %p, want a new client", got, tt.in)
			}
			if got.Timeout != tt.wantTimeout {
				t.Errorf("Timeout = %v, want %v", got.Timeout, tt.wantTimeout)
			}
			if tt.in == nil {
				return
			}
			if got.Transport != tt.in.Transport {
				t.Error("transport not kept")
			}
			if tt.in.Timeout != before.Timeout || tt.in.Transport != before.Transport {
				t.Errorf("caller's client changed: %+v", tt.in)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		raw     string
		want    string // empty: rejected
		wantErr string
	}{
		{"https://forge.example.com", "https://forge.example.com/", ""},
		{"https://forge.example.com/", "https://forge.example.com/", ""},
		{"http://127.0.0.1:8900/api/v4", "http://127.0.0.1:8900/api/v4/", ""},
		{"https://example.com/a%2Fb", "https://example.com/a%2Fb/", ""},
		{"https://example.com/a%2Fb/", "https://example.com/a%2Fb/", ""},
		{"forge.example.com", "", `API URL "forge.example.com" must be an absolute http(s) URL`},
		{"ftp://forge.example.com/", "", `API URL "ftp://forge.example.com/" must be an absolute http(s) URL`},
		{"https:///path", "", `API URL "https:///path" must be an absolute http(s) URL`},
		{"https://x:secret@forge.example.com/", "", "API URL must not contain credentials"},
		{"https://forge.example.com/?token=x", "", "API URL must not have a query or fragment"},
		{"https://forge.example.com/#top", "", "API URL must not have a query or fragment"},
		{"https://forge.example.com/%zz", "", "API URL: not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := CheckURL("API URL", tt.raw)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("accepted as %v", u)
				}
				if !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Errorf("error = %q, want it to start with %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error contains the credentials: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("CheckURL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckURLNeverEchoesCredentials(t *testing.T) {
	_, err := CheckURL("api url", "https://x:SECRET-TOKEN@h/%zz")
	if err == nil || strings.Contains(err.Error(), "SECRET-TOKEN") {
		t.Fatalf("CheckURL error = %v, want an error without the credentials", err)
	}
}
