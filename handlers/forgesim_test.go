package handlers

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forgesim/ghsim"
	"github.com/expbot/expbot/internal/forgesim/glsim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// simForge is the simulated forge's flavour of one real forge: how it
// builds deliveries and how expbot receives them.
type simForge struct {
	forge    event.Forge
	base     string // the forge's external URL
	host     string // its host, as decoded
	hook     state.Hook
	deliver  func(context.Context, state.Event, state.Hook, string, string) ([]*http.Request, error)
	decode   func(string, []byte) (event.Event, error)
	handler  func(Recorder) http.Handler
	eventHdr string
	// the web URL of comment id on pull request n
	commentURL func(n int, id int64) string
}

func simForges() []simForge {
	return []simForge{
		{
			forge: event.GitHub, base: "https://ghe.example.test", host: "ghe.example.test",
			hook:    state.Hook{ID: 41, Flavor: "github", URL: "https://expbot.example.test/webhooks/github", Secret: ghSecret},
			deliver: ghsim.NewDelivery, decode: DecodeGitHub, eventHdr: "X-GitHub-Event",
			handler: func(rec Recorder) http.Handler {
				return NewGitHub(GitHubConfig{Secrets: []string{ghSecret}}, rec, nil, zerolog.Nop())
			},
			commentURL: func(n int, id int64) string {
				return "https://ghe.example.test/acme/llm/pull/" + strconv.Itoa(n) + "#issuecomment-" + strconv.FormatInt(id, 10)
			},
		},
		{
			forge: event.GitLab, base: "http://gitlab.example.test:8929", host: "gitlab.example.test:8929",
			hook:    state.Hook{ID: 42, Flavor: "gitlab", URL: "https://expbot.example.test/webhooks/gitlab", Secret: glToken},
			deliver: glsim.NewDelivery, decode: DecodeGitLab, eventHdr: "X-Gitlab-Event",
			handler: func(rec Recorder) http.Handler {
				return NewGitLab(GitLabConfig{Tokens: []string{glToken}}, rec, nil, zerolog.Nop())
			},
			commentURL: func(n int, id int64) string {
				return "http://gitlab.example.test:8929/acme/llm/-/merge_requests/" + strconv.Itoa(n) + "#note_" + strconv.FormatInt(id, 10)
			},
		},
	}
}

// TestDecodeSimulatedDeliveries builds the webhooks of pull/merge request
// activity with the simulated forge, whose payloads follow the real ones
// field by field, and checks what the decoders make of them, directly and
// through the endpoints (signature or token included).
func TestDecodeSimulatedDeliveries(t *testing.T) {
	f := state.New(state.WithClock(func() time.Time { return time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC) }))
	alice := f.AddUser("alice", "Alice", "alice@example.com", "", false)
	// A bot by GitHub's account type and by GitLab's token-bot naming.
	bot := f.AddUser("project_7_bot_1a2b", "expbot", "bot@example.com", "", true)
	repo, err := f.CreateRepo("acme/llm", "main", map[string]string{"README.md": "hi\n"}, state.Signature{Name: "A", Email: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	head, _, err := f.PushFiles("acme/llm", "exp/cosine", "alice", "Cosine schedule", []state.FileChange{{Path: "lr.yaml", Content: []byte("schedule: cosine\n")}})
	if err != nil {
		t.Fatal(err)
	}
	must := func(evs []state.Event, err error) []state.Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1", len(evs))
		}
		return evs
	}
	pull, evs, err := f.OpenPull("acme/llm", "alice", "Try a cosine schedule", "Cosine.", "exp/cosine", "")
	opened := must(evs, err)[0]
	c1, evs, err := f.Comment("acme/llm", pull.Number, "", "alice", "/experiment\nlearning_rate: 3e-5\n")
	commented := must(evs, err)[0]
	c2, evs, err := f.Comment("acme/llm", pull.Number, "", bot.Login, "Branch `exp/cosine-lr` is ready.")
	botCommented := must(evs, err)[0]
	_, evs, err = f.EditComment("acme/llm", c1.ID, "alice", "/experiment\nlearning_rate: 1e-5\n")
	edited := must(evs, err)[0]
	issue, evs, err := f.OpenIssue("acme/llm", "alice", "Lower learning rate", "base: main\n", nil)
	must(evs, err)
	_, evs, err = f.Comment("acme/llm", issue.Number, "", "alice", "/experiment")
	onIssue := must(evs, err)[0]
	_, evs, err = f.Comment("acme/llm", 0, head.SHA, "alice", "/experiment")
	onCommit := must(evs, err)[0]
	closed := must(f.SetIssueState("acme/llm", pull.Number, "alice", "closed"))[0]
	reopened := must(f.SetIssueState("acme/llm", pull.Number, "alice", "open"))[0]
	merged := must(f.SetIssueState("acme/llm", pull.Number, "alice", "merged"))[0]

	aliceActor := event.Actor{ID: alice.ID, Login: "alice"}
	botActor := event.Actor{ID: bot.ID, Login: bot.Login, Bot: true}
	for _, sf := range simForges() {
		t.Run(string(sf.forge), func(t *testing.T) {
			r := event.Repo{Forge: sf.forge, Host: sf.host, Path: "acme/llm", ID: repo.ID, DefaultBranch: "main", WebURL: sf.base + "/acme/llm"}
			comment := func(c state.Comment, actor event.Actor) *event.CommentCreated {
				cc := &event.CommentCreated{
					Repo: r, Thread: event.Thread{Kind: event.PullThread, Number: pull.Number},
					CommentID: c.ID, Body: c.Body, URL: sf.commentURL(pull.Number, c.ID), Actor: actor,
				}
				if sf.forge == event.GitLab { // GitHub's issue_comment does not name the branch
					cc.HeadBranch = "exp/cosine"
				}
				return cc
			}
			pullChange := func(open, wasOpen, merged bool) *event.PullChange {
				return &event.PullChange{Repo: r, Number: pull.Number, Open: open, WasOpen: wasOpen, Merged: merged, Actor: aliceActor}
			}
			tests := []struct {
				name    string
				ev      state.Event
				want    event.Event // nil: ignored
				ignored bool        // decoded as Ignored (false with want nil: no delivery at all)
			}{
				{"pull opened", opened, pullChange(true, false, false), false},
				{"comment", commented, comment(c1, aliceActor), false},
				{"comment by a bot", botCommented, comment(c2, botActor), false},
				{"comment edited", edited, nil, true},
				{"comment on an issue", onIssue, nil, true},
				{"comment on a commit", onCommit, nil, true},
				{"pull closed", closed, pullChange(false, true, false), false},
				{"pull reopened", reopened, pullChange(true, false, false), false},
				{"pull merged", merged, pullChange(false, true, true), false},
			}
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					id := "sim-" + strconv.Itoa(i)
					reqs, err := sf.deliver(t.Context(), tt.ev, sf.hook, id, sf.base)
					if err != nil {
						t.Fatal(err)
					}
					if len(reqs) != 1 {
						t.Fatalf("%d deliveries, want 1", len(reqs))
					}
					req := reqs[0]
					body, err := io.ReadAll(req.Body)
					if err != nil {
						t.Fatal(err)
					}
					name := req.Header.Get(sf.eventHdr)
					got, err := sf.decode(name, body)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if tt.ignored {
						if _, ok := got.(*event.Ignored); !ok {
							t.Fatalf("%s decoded to %#v, want Ignored", name, got)
						}
					} else {
						checkSimDecoded(t, got, tt.want, head.SHA)
					}

					// Through the endpoint: verified, decoded, recorded as decoded.
					rec := &fakeRecorder{}
					srvReq := httptest.NewRequest(http.MethodPost, sf.hook.URL, bytes.NewReader(body))
					srvReq.Header = req.Header.Clone()
					w := httptest.NewRecorder()
					sf.handler(rec).ServeHTTP(w, srvReq)
					calls := rec.take()
					if tt.ignored {
						if w.Code != http.StatusOK || len(calls) != 0 {
							t.Fatalf("endpoint answered %d with %d Record calls, want 200 and none: %s", w.Code, len(calls), w.Body)
						}
						return
					}
					if w.Code != http.StatusAccepted || len(calls) != 1 {
						t.Fatalf("endpoint answered %d with %d Record calls, want 202 and one: %s", w.Code, len(calls), w.Body)
					}
					if calls[0].ID != id || calls[0].Event != name || !reflect.DeepEqual(untimed(calls[0].Payload), untimed(got)) {
						t.Errorf("recorded %+v, want id %s, event %s, payload %#v", calls[0], id, name, got)
					}
				})
			}
		})
	}
}

// checkSimDecoded compares a decoded event with want. The simulator's pull
// payloads may lack the head commit; when one is there it must be headSHA.
func checkSimDecoded(t *testing.T, got, want event.Event, headSHA string) {
	t.Helper()
	if c, ok := got.(*event.CommentCreated); ok && c.HeadSHA != "" {
		if c.HeadSHA != headSHA {
			t.Errorf("HeadSHA = %q, want %q", c.HeadSHA, headSHA)
		}
		cp := *c
		cp.HeadSHA = ""
		got = &cp
	}
	if eventTime(got).IsZero() {
		t.Errorf("%T carries no time", got)
	}
	if !reflect.DeepEqual(untimed(got), want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}
