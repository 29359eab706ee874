package handlers

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/event"
)

// Comments on pull/merge requests and their state changes are recorded like
// issue changes; the rest of those hooks are answered 200 and not recorded.
func TestHandlersRecordPullEvents(t *testing.T) {
	octocat := ghUserJSON("octocat", 583231, "User")
	type step struct {
		name    string
		hdr     http.Header
		body    string
		status  int
		outcome string
		want    event.Event // the recorded payload; nil when nothing is recorded
	}
	ghStep := func(name, ev, id, body string, status int, outcome string, want event.Event) step {
		return step{name, ghHeaders(ev, id, ghSecret, body), body, status, outcome, want}
	}
	glStep := func(name, ev, id, body string, status int, outcome string, want event.Event) step {
		return step{name, withIDs(glHeaders(ev, glToken), id, ""), body, status, outcome, want}
	}
	tests := []struct {
		forge event.Forge
		h     *harness
		steps []step
		log   string
	}{
		{event.GitHub, githubHarness(t, Options{}), []step{
			ghStep("comment", "issue_comment", "g-1", ghIssueComment("created", ghPRLinks, octocat), 202, "accepted",
				ghWantComment(event.Actor{ID: 583231, Login: "octocat"})),
			ghStep("comment on an issue", "issue_comment", "g-2", ghIssueComment("created", "", octocat), 200, "ignored", nil),
			ghStep("merged", "pull_request", "g-3", ghPullRequest("closed", "closed", true, octocat), 202, "accepted", ghWantPull(false, true, true)),
			ghStep("synchronize", "pull_request", "g-4", ghPullRequest("synchronize", "open", false, octocat), 200, "ignored", nil),
			ghStep("comment id missing", "issue_comment", "g-5", swap(ghIssueComment("created", ghPRLinks, octocat), `"id": 2101234567,`, ``), 400, "malformed", nil),
		}, `"repo":"github.com/octo-org/llm-variants","pull":12`},
		{event.GitLab, gitlabHarness(t, GitLabConfig{Tokens: []string{glToken}}), []step{
			glStep("note", "Note Hook", "l-1", glNote("MergeRequest", `"action": "create",`, "ada"), 202, "accepted", glWantComment("ada", false)),
			glStep("note edited", "Note Hook", "l-2", glNote("MergeRequest", `"action": "update",`, "ada"), 200, "ignored", nil),
			glStep("merged", "Merge Request Hook", "l-3", glMergeRequest("merge", "merged"), 202, "accepted", glWantPull(false, true, true)),
			glStep("approved", "Merge Request Hook", "l-4", glMergeRequest("approved", "opened"), 200, "ignored", nil),
			glStep("iid missing", "Merge Request Hook", "l-5", swap(glMergeRequest("merge", "merged"), `"iid": 5,`, ``), 400, "malformed", nil),
		}, `"repo":"gitlab.example.com/ml/research/llm-variants","pull":5`},
	}
	for _, tt := range tests {
		t.Run(string(tt.forge), func(t *testing.T) {
			counts := map[[2]string]float64{}
			for _, s := range tt.steps {
				r := tt.h.post(t, s.hdr, s.body)
				if r.status != s.status || r.answer.Status != s.outcome {
					t.Fatalf("%s: got %d %+v, want %d %s", s.name, r.status, r.answer, s.status, s.outcome)
				}
				name := s.hdr.Get("X-GitHub-Event") + s.hdr.Get("X-Gitlab-Event")
				counts[[2]string{name, s.outcome}]++
				calls := tt.h.rec.take()
				if s.want == nil {
					if len(calls) != 0 {
						t.Fatalf("%s: Record called %d times, want none", s.name, len(calls))
					}
					continue
				}
				want := event.Delivery{Forge: tt.forge, ID: r.answer.Delivery, Event: name, ReceivedAt: fixedNow, Payload: s.want}
				if len(calls) == 1 {
					calls[0].Payload = untimed(calls[0].Payload)
				}
				if len(calls) != 1 || !reflect.DeepEqual(calls[0], want) {
					t.Fatalf("%s: Record calls %+v, want exactly %+v", s.name, calls, want)
				}
			}
			tt.h.done()
			for k, want := range counts {
				if got := counterValue(t, tt.h.reg, string(tt.forge), k[0], k[1]); got != want {
					t.Errorf("deliveries{event=%q,outcome=%q} = %v, want %v", k[0], k[1], got, want)
				}
			}
			logs := tt.h.logs.String()
			checkLogs(t, logs, len(tt.steps), []string{ghSecret, glToken, "learning_rate"})
			if !strings.Contains(logs, tt.log) {
				t.Errorf("no log line has %s:\n%s", tt.log, logs)
			}
		})
	}
}
