package forgesim

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// These tests use the real webhook builders and API faces (ghsim, glsim).

func TestRealWebhookOnLabel(t *testing.T) {
	const secret = "label-hook-secret"
	tests := []struct {
		flavor    string
		event     string
		idHeader  string
		authCheck func(t *testing.T, r received)
		payload   func(t *testing.T, p map[string]any)
	}{
		{
			flavor: GitHub, event: "issues", idHeader: "X-GitHub-Delivery",
			authCheck: func(t *testing.T, r received) {
				if !verifyGitHub(secret, r.header, r.body) {
					t.Errorf("X-Hub-Signature-256 %q does not verify", r.header.Get("X-Hub-Signature-256"))
				}
			},
			payload: func(t *testing.T, p map[string]any) {
				label, _ := p["label"].(map[string]any)
				sender, _ := p["sender"].(map[string]any)
				if p["action"] != "labeled" || label["name"] != "new-experiment" || sender["login"] != "alice" {
					t.Errorf("payload action %v label %v sender %v", p["action"], label, sender)
				}
			},
		},
		{
			flavor: GitLab, event: "Issue Hook", idHeader: "X-Gitlab-Event-UUID",
			authCheck: func(t *testing.T, r received) {
				if got := r.header.Get("X-Gitlab-Token"); got != secret {
					t.Errorf("X-Gitlab-Token %q, want the hook's secret", got)
				}
			},
			payload: func(t *testing.T, p map[string]any) {
				attrs, _ := p["object_attributes"].(map[string]any)
				changes, _ := p["changes"].(map[string]any)
				labels, _ := changes["labels"].(map[string]any)
				if p["object_kind"] != "issue" || attrs["action"] != "update" || labels["current"] == nil {
					t.Errorf("payload kind %v action %v labels change %v", p["object_kind"], attrs["action"], labels)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.flavor, func(t *testing.T) {
			e := newSim(t)
			e.seedBasic(t)
			rc := newReceiver(t, http.StatusAccepted, "queued")
			if _, err := e.client.AddHook(context.Background(), "acme/llm", HookRequest{Flavor: tc.flavor, URL: rc.URL, Secret: secret}); err != nil {
				t.Fatal(err)
			}
			res, err := e.client.LabelIssue(context.Background(), "acme/llm", 1, LabelEdit{Actor: "alice", Add: []string{"new-experiment"}})
			if err != nil {
				t.Fatal(err)
			}
			got := rc.requests()
			if len(got) != 1 || len(res.Deliveries) != 1 {
				t.Fatalf("receiver got %d requests, action reported %d deliveries; want 1 each: %+v", len(got), len(res.Deliveries), res.Deliveries)
			}
			d := res.Deliveries[0]
			if d.Status != http.StatusAccepted || d.Error != "" || d.Event != tc.event || d.ID == "" || d.ID != got[0].header.Get(tc.idHeader) {
				t.Errorf("delivery %+v; receiver saw id %q", d, got[0].header.Get(tc.idHeader))
			}
			tc.authCheck(t, got[0])
			var p map[string]any
			if err := json.Unmarshal(got[0].body, &p); err != nil {
				t.Fatalf("payload is not JSON: %v", err)
			}
			tc.payload(t, p)

			again, err := e.client.Redeliver(context.Background(), d.ID)
			if err != nil || len(again) != 1 || again[0].Status != http.StatusAccepted {
				t.Fatalf("redeliver: %+v, %v", again, err)
			}
			got = rc.requests()
			if len(got) != 2 || got[1].header.Get(tc.idHeader) != d.ID || string(got[1].body) != string(got[0].body) {
				t.Errorf("redelivery did not repeat id %s and body", d.ID)
			}
			tc.authCheck(t, got[1])
		})
	}
}

// TestAPIFacesAreMounted checks the prefixes are stripped and GitLab's
// escaped project paths survive the routing.
func TestAPIFacesAreMounted(t *testing.T) {
	e := newSim(t)
	e.seedBasic(t)
	tests := []struct {
		path, authHeader, authValue, field, want string
	}{
		{"/api/v3/repos/acme/llm", "Authorization", "Bearer alice-token", "full_name", "acme/llm"},
		{"/api/v4/projects/acme%2Fllm", "PRIVATE-TOKEN", "alice-token", "path_with_namespace", "acme/llm"},
		{"/api/v3/user", "Authorization", "Bearer bot-token", "login", "expbot"},
		{"/api/v4/user", "PRIVATE-TOKEN", "bot-token", "username", "expbot"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.ts.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set(tc.authHeader, tc.authValue)
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("status %d, body not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != http.StatusOK || body[tc.field] != tc.want {
				t.Errorf("status %d, %s = %v; want 200 and %q", resp.StatusCode, tc.field, body[tc.field], tc.want)
			}
		})
	}
}

// TestRealWebhooksPerAction checks each admin action reaches a hook of each
// flavour as the events that forge sends for it, every one with its own id.
func TestRealWebhooksPerAction(t *testing.T) {
	type step struct {
		name string
		do   func(ctx context.Context, c *Client) ([]Delivery, error)
		gh   []string // X-GitHub-Event values
		gl   []string // X-Gitlab-Event values
	}
	const repo = "acme/llm"
	steps := []step{
		{"comment", func(ctx context.Context, c *Client) ([]Delivery, error) {
			r, err := c.Comment(ctx, repo, 1, CommentRequest{Actor: "alice", Body: "/experiment"})
			return r.Deliveries, err
		}, []string{"issue_comment"}, []string{"Note Hook"}},
		{"push a new branch", func(ctx context.Context, c *Client) ([]Delivery, error) {
			r, err := c.Push(ctx, repo, PushRequest{Actor: "alice", Branch: "exp/a", Message: "m", Files: map[string]*string{"a": new("1")}})
			return r.Deliveries, err
		}, []string{"push", "create"}, []string{"Push Hook"}},
		{"open pull", func(ctx context.Context, c *Client) ([]Delivery, error) {
			r, err := c.OpenPull(ctx, repo, PullRequestRequest{Actor: "alice", Title: "p", Head: "exp/a"})
			return r.Deliveries, err
		}, []string{"pull_request"}, []string{"Merge Request Hook"}},
		{"push tag", func(ctx context.Context, c *Client) ([]Delivery, error) {
			r, err := c.PushTag(ctx, repo, "v1", TagRequest{Actor: "alice", Ref: "exp/a"})
			return r.Deliveries, err
		}, []string{"push", "create"}, []string{"Tag Push Hook"}},
		{"comment on commit", func(ctx context.Context, c *Client) ([]Delivery, error) {
			r, err := c.CommentCommit(ctx, repo, "v1", CommentRequest{Actor: "alice", Body: "/experiment"})
			return r.Deliveries, err
		}, []string{"commit_comment"}, []string{"Note Hook"}},
		{"delete tag", func(ctx context.Context, c *Client) ([]Delivery, error) {
			return c.DeleteTag(ctx, repo, "v1", "alice")
		}, []string{"push", "delete"}, []string{"Tag Push Hook"}},
		{"merge", func(ctx context.Context, c *Client) ([]Delivery, error) {
			r, err := c.EditIssue(ctx, repo, 2, IssueEdit{Actor: "alice", State: "merged"})
			return r.Deliveries, err
		}, []string{"pull_request"}, []string{"Merge Request Hook"}},
	}
	for _, flavor := range []string{GitHub, GitLab} {
		t.Run(flavor, func(t *testing.T) {
			ctx := context.Background()
			e := newSim(t)
			e.seedBasic(t)
			rc := newReceiver(t, http.StatusOK, "")
			if _, err := e.client.AddHook(ctx, repo, HookRequest{Flavor: flavor, URL: rc.URL, Secret: "x"}); err != nil {
				t.Fatal(err)
			}
			ids := map[string]bool{}
			for _, st := range steps {
				ds, err := st.do(ctx, e.client)
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				want := st.gh
				if flavor == GitLab {
					want = st.gl
				}
				var got []string
				for _, d := range ds {
					got = append(got, d.Event)
					if d.Status != http.StatusOK || d.Error != "" || ids[d.ID] {
						t.Errorf("%s: delivery %s status %d error %q (id seen before: %v)", st.name, d.ID, d.Status, d.Error, ids[d.ID])
					}
					ids[d.ID] = true
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: events %v, want %v", st.name, got, want)
				}
			}
		})
	}
}
