package handlers

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/event"
)

// Tag pushes are recorded like the other actionable events; branch pushes
// and GitHub's create/delete companions are answered 200 and not recorded,
// and all of them are counted under their own event names.
func TestHandlersRecordTagEvents(t *testing.T) {
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
	octoActor := event.Actor{ID: 583231, Login: "octocat"}
	ada := event.Actor{ID: 51, Login: "ada"}
	tests := []struct {
		forge event.Forge
		h     *harness
		steps []step
		log   string
	}{
		{event.GitHub, githubHarness(t, Options{}), []step{
			ghStep("tag created", "push", "g-1", ghPush("refs/tags/v1.2", zeroSHA, commitA, true, false, false, ghHeadCommitJSON(commitA), octocat),
				202, "accepted", ghWantTag("", commitA, octoActor)),
			ghStep("its create companion", "create", "g-2", ghRefEvent("create", "v1.2", "tag"), 200, "ignored", nil),
			ghStep("tag deleted", "push", "g-3", ghPush("refs/tags/v1.2", commitA, zeroSHA, false, true, false, "null", octocat),
				202, "accepted", ghWantTag(commitA, "", octoActor)),
			ghStep("its delete companion", "delete", "g-4", ghRefEvent("delete", "v1.2", "tag"), 200, "ignored", nil),
			ghStep("branch push", "push", "g-5", ghPush("refs/heads/main", commitA, commitB, false, false, false, ghHeadCommitJSON(commitB), octocat),
				200, "ignored", nil),
			ghStep("tag push without repository", "push", "g-6", `{"ref": "refs/tags/v1.2", "before": "`+zeroSHA+`", "after": "`+commitA+`"}`,
				400, "malformed", nil),
		}, `"repo":"github.com/octo-org/llm-variants","tag":"v1.2"`},
		{event.GitLab, gitlabHarness(t, GitLabConfig{Tokens: []string{glToken}}), []step{
			glStep("tag moved", "Tag Push Hook", "l-1", glTagPush("refs/tags/v1.2", commitA, commitB, `"`+commitB+`"`, "ada"),
				202, "accepted", glWantTag(commitA, commitB, ada)),
			glStep("branch push", "Push Hook", "l-2", `{"object_kind": "push", "ref": "refs/heads/trunk"}`, 200, "ignored", nil),
			glStep("project missing", "Tag Push Hook", "l-3", `{"object_kind": "tag_push", "ref": "refs/tags/v1.2", "before": "`+zeroSHA+`", "after": "`+commitA+`"}`,
				400, "malformed", nil),
		}, `"repo":"gitlab.example.com/ml/research/llm-variants","tag":"v1.2"`},
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
			checkLogs(t, logs, len(tt.steps), []string{ghSecret, glToken})
			if !strings.Contains(logs, tt.log) {
				t.Errorf("no log line has %s:\n%s", tt.log, logs)
			}
		})
	}
}
