package scrub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const tok = "ghp_Zx9fakeTokenValue42"

func b64(e *base64.Encoding, s string) string { return e.EncodeToString([]byte(s)) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// encodings are the ways a provider may echo a credential.
var encodings = []struct {
	name string
	enc  func(sec string) string
}{
	{"plain", func(s string) string { return s }},
	{"query escaped", url.QueryEscape},
	{"path escaped", url.PathEscape},
	{"lower-hex escaped", func(s string) string { return lowerHex(url.PathEscape(s)) }},
	{"json", jsonString},
	{"json twice", func(s string) string { return jsonString(jsonString(s)) }},
	{"base64", func(s string) string { return b64(base64.StdEncoding, s) }},
	{"base64 raw", func(s string) string { return b64(base64.RawStdEncoding, s) }},
	{"base64 url", func(s string) string { return b64(base64.URLEncoding, s) }},
	{"base64 url raw", func(s string) string { return b64(base64.RawURLEncoding, s) }},
	{"basic x-access-token", func(s string) string { return "Basic " + b64(base64.StdEncoding, "x-access-token:"+s) }},
	{"basic oauth2", func(s string) string { return b64(base64.StdEncoding, "oauth2:"+s) }},
	{"basic user", func(s string) string { return b64(base64.StdEncoding, "a:"+s) }},
	{"basic empty user", func(s string) string { return b64(base64.RawURLEncoding, ":"+s) }},
	{"secret then more", func(s string) string { return b64(base64.StdEncoding, "u:"+s+"\n") }},
	{"url credentials", func(s string) string { return "https://x-access-token:" + url.QueryEscape(s) + "@github.com/o/r.git" }},
}

func TestEveryEncodingIsMasked(t *testing.T) {
	for _, sec := range []string{tok, "glpat-abcdefghij0123", `we!rd p@ss/w+rd:"é"€𝄞&<>`, "whsec_c2VjcmV0LWtleS1ieXRlcw=="} {
		s := New(sec)
		for _, e := range encodings {
			t.Run(e.name, func(t *testing.T) {
				enc := e.enc(sec)
				in := `error: 422 {"message":"bad ref; saw ` + enc + ` in the request"} (done)`
				out := s.String(in)
				if strings.Contains(out, enc) || strings.Contains(out, sec) {
					t.Fatalf("secret %q survived:\n in: %s\nout: %s", sec, in, out)
				}
				if !strings.Contains(out, Mask) || !strings.HasPrefix(out, `error: 422 {"message":"bad ref; saw `) || !strings.HasSuffix(out, ` in the request"} (done)`) {
					t.Fatalf("the text around the secret changed:\n in: %s\nout: %s", in, out)
				}
			})
		}
	}
}

func TestCleanTextIsUntouched(t *testing.T) {
	s := New(tok, "glpat-abcdefghij0123", "e2e-passphrase")
	for _, in := range []string{
		"",
		"plain words, numbers 12345678 and an id 3f2a9c1e",
		`{"level":"info","message":"webhook delivery","status":202}`,
		"Z2hwX1p4OWZha2VU", // a base64 fragment shorter than the secret's core
		"http://127.0.0.1:8080/webhooks/github failed: connection refused",
		"ghp_Zx9fakeTokenValue4", // one character short of the token
	} {
		if out := s.String(in); out != in {
			t.Errorf("String(%q) = %q, want it unchanged", in, out)
		}
		if out := s.Bytes([]byte(in)); string(out) != in {
			t.Errorf("Bytes(%q) = %q", in, out)
		}
	}
}

// A short secret would turn the scrubber into a mangler: it is refused and
// reported, and nothing is masked for it.
func TestShortSecretsAreReportedAndIgnored(t *testing.T) {
	s := New()
	short := s.Add("abc", "", "1234567", tok)
	if fmt.Sprint(short) != "[abc 1234567]" {
		t.Errorf("too short = %q", short)
	}
	if s.Len() != 1 {
		t.Errorf("Len = %d, want 1", s.Len())
	}
	in := "abc 1234567 abcdef " + tok
	if out := s.String(in); out != "abc 1234567 abcdef "+Mask {
		t.Errorf("String = %q", out)
	}
}

func TestSecretsAddedLaterAreMasked(t *testing.T) {
	s := New(tok)
	inst := "ghs_installationToken0001"
	if out := s.String(inst); out != inst {
		t.Fatalf("unknown secret masked: %q", out)
	}
	s.Add(inst, tok) // the known one is not added twice
	if s.Len() != 2 {
		t.Errorf("Len = %d, want 2", s.Len())
	}
	if out := s.String("a " + inst + " b " + tok); out != "a "+Mask+" b "+Mask {
		t.Errorf("String = %q", out)
	}
}

func TestOverlappingSecretsMergeIntoOneMask(t *testing.T) {
	s := New("abcdefgh12", "fgh12345678")
	if out := s.String("x abcdefgh12345678 y"); out != "x "+Mask+" y" {
		t.Errorf("String = %q", out)
	}
}

func TestErrorKeepsTheChain(t *testing.T) {
	s := New(tok)
	err := fmt.Errorf("create ref: %w", fs.ErrPermission)
	if s.Error(err) != err {
		t.Error("a clean error was wrapped")
	}
	err = fmt.Errorf("create ref with %s: %w", tok, fs.ErrPermission)
	got := s.Error(err)
	if strings.Contains(got.Error(), tok) || !errors.Is(got, fs.ErrPermission) {
		t.Errorf("Error = %v, Is(ErrPermission) = %v", got, errors.Is(got, fs.ErrPermission))
	}
	// Unknown credentials are caught by their header.
	got = s.Error(errors.New("422: Authorization=Bearer unknownvalue9 PRIVATE-TOKEN: zzzzzzzzz9"))
	if strings.Contains(got.Error(), "unknownvalue9") || strings.Contains(got.Error(), "zzzzzzzzz9") {
		t.Errorf("Error = %v", got)
	}
	if s.Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}

func TestHeaders(t *testing.T) {
	for in, want := range map[string]string{
		"Authorization: Bearer abc def":             "Authorization: Bearer " + Mask + " def",
		`{"h":"Authorization: token abc\"x"}`:       `{"h":"Authorization: token ` + Mask + `\"x"}`,
		"PRIVATE-TOKEN: glpat-1&x=2":                "PRIVATE-TOKEN: " + Mask + "&x=2",
		"https://u:p%40ss@host/x":                   "https://u:" + Mask + "@host/x",
		"http://127.0.0.1:8080/x: connection reset": "http://127.0.0.1:8080/x: connection reset",
		"?access_token=abc&b=1":                     "?access_token=" + Mask + "&b=1",
	} {
		if got := Headers(in); got != want {
			t.Errorf("Headers(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriterScrubsEachRecord(t *testing.T) {
	var buf bytes.Buffer
	w := New(tok).Writer(&buf)
	line := `{"level":"error","error":"POST git/refs: 422 Authorization=Bearer ` + tok + `"}` + "\n"
	n, err := w.Write([]byte(line))
	if err != nil || n != len(line) {
		t.Fatalf("Write = %d, %v; want %d", n, err, len(line))
	}
	if strings.Contains(buf.String(), tok) || !json.Valid(bytes.TrimSpace(buf.Bytes())) {
		t.Errorf("wrote %s", buf.String())
	}
}

func TestNilScrubberPassesThrough(t *testing.T) {
	var s *Scrubber
	if s.String("x") != "x" || string(s.Bytes([]byte("y"))) != "y" || s.Error(nil) != nil {
		t.Error("nil Scrubber changed its input")
	}
}

func FuzzScrub(f *testing.F) {
	f.Add(tok, "x-access-token", "before ", " after")
	f.Add(`p@ss/w+rd:"é"`, "", "", "")
	f.Add("short", "u", "a", "b")
	f.Add("aaaaaaaaaa", "aa", "aaaa", "aaa")
	f.Fuzz(func(t *testing.T, sec, user, before, after string) {
		s := New(sec)
		if len(sec) < MinLen {
			in := before + sec + after
			if out := s.String(in); out != in {
				t.Fatalf("a short secret changed %q into %q", in, out)
			}
			return
		}
		if strings.ContainsAny(sec, "[]") {
			return // the mask itself could then complete an occurrence
		}
		for _, e := range encodings {
			enc := e.enc(sec)
			if e.name == "basic user" {
				enc = b64(base64.StdEncoding, user+":"+sec)
			}
			in := before + enc + after
			out := s.String(in)
			if strings.Contains(out, sec) || strings.Contains(out, enc) {
				t.Fatalf("%s: secret %q survived in %q", e.name, sec, out)
			}
			if again := s.String(out); again != out {
				t.Fatalf("%s: scrubbing twice changed %q into %q", e.name, out, again)
			}
		}
	})
}

func TestHandlerScrubsAnswers(t *testing.T) {
	h := New(tok).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "999")
		http.Error(w, "not ready: dial https://x-access-token:"+tok+"@h: refused", http.StatusServiceUnavailable)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(body, tok) || !strings.Contains(body, "not ready: dial https://x-access-token:"+Mask+"@h: refused") {
		t.Errorf("answer %d %q", rec.Code, body)
	}
	if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %s for %d bytes", cl, len(body))
	}
}

func TestRotateKeepsTheLastTwoPerKey(t *testing.T) {
	const (
		a1, a2, a3 = "ghs_installationA1xx", "ghs_installationA2xx", "ghs_installationA3xx"
		b1         = "ghs_installationB1xx"
		static     = "ghp_configuredToken1"
	)
	type rotation struct{ key, secret string }
	for _, tc := range []struct {
		name      string
		add       []string
		rotations []rotation
		masked    []string
		kept      []string // no longer looked for
		n         int      // Len afterwards
	}{
		{"one", nil, []rotation{{"a", a1}}, []string{a1}, nil, 1},
		{"current and previous", nil, []rotation{{"a", a1}, {"a", a2}}, []string{a1, a2}, nil, 2},
		{"the third drops the first", nil, []rotation{{"a", a1}, {"a", a2}, {"a", a3}}, []string{a2, a3}, []string{a1}, 2},
		{"keys are apart", nil, []rotation{{"a", a1}, {"b", b1}, {"a", a2}, {"a", a3}}, []string{a2, a3, b1}, []string{a1}, 3},
		{"the same again changes nothing", nil, []rotation{{"a", a1}, {"a", a2}, {"a", a2}, {"a", a2}}, []string{a1, a2}, nil, 2},
		{"an old one back is current", nil, []rotation{{"a", a1}, {"a", a2}, {"a", a1}, {"a", a3}}, []string{a1, a3}, []string{a2}, 2},
		{"added for good outlives rotation", []string{a1}, []rotation{{"a", a1}, {"a", a2}, {"a", a3}}, []string{a1, a2, a3}, nil, 3},
		{"static untouched", []string{static}, []rotation{{"a", a1}, {"a", a2}, {"a", a3}}, []string{static, a2, a3}, []string{a1}, 3},
		{"empty skipped", nil, []rotation{{"a", a1}, {"a", ""}, {"a", ""}}, []string{a1}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.add...)
			for _, r := range tc.rotations {
				if s.Rotate(r.key, r.secret) {
					t.Fatalf("Rotate(%q) reported too short", r.secret)
				}
			}
			for _, sec := range tc.masked {
				for _, in := range []string{"token " + sec, "Basic " + b64(base64.StdEncoding, "x-access-token:"+sec)} {
					if out := s.String(in); strings.Contains(out, sec) || !strings.Contains(out, Mask) {
						t.Errorf("%q not masked: %q", sec, out)
					}
				}
			}
			for _, sec := range tc.kept {
				if out := s.String("token " + sec); out != "token "+sec {
					t.Errorf("rotated-out %q still masked: %q", sec, out)
				}
			}
			if s.Len() != tc.n {
				t.Errorf("Len = %d, want %d", s.Len(), tc.n)
			}
		})
	}
}

func TestRotateReportsShortSecrets(t *testing.T) {
	s := New()
	if !s.Rotate("a", "short") {
		t.Error("a short secret was not reported")
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d, want 0", s.Len())
	}
}

// Rotations from many goroutines while others scrub: run with -race. The
// set stays bounded, and each key's current secret is masked throughout.
func TestRotateConcurrently(t *testing.T) {
	const keys, rounds = 8, 50
	s := New(tok)
	var wg sync.WaitGroup
	for k := range keys {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range rounds {
				sec := fmt.Sprintf("ghs_key%d_token%04d", k, i)
				s.Rotate(strconv.Itoa(k), sec)
				if out := s.String("auth " + sec); strings.Contains(out, sec) {
					t.Errorf("the current secret %q is not masked: %q", sec, out)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range rounds {
				if out := s.String("x " + tok + " y"); strings.Contains(out, tok) {
					t.Errorf("the static secret survived: %q", out)
				}
			}
		}()
	}
	wg.Wait()
	if got, want := s.Len(), 1+keys*Keep; got != want {
		t.Errorf("Len = %d after %d rotations, want %d", got, keys*rounds, want)
	}
	for k := range keys {
		old := fmt.Sprintf("ghs_key%d_token%04d", k, 0)
		if out := s.String(old); out != old {
			t.Errorf("the first secret of key %d is still looked for", k)
		}
	}
}
