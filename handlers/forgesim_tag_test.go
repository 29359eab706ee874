package handlers

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// TestDecodeSimulatedTagPushes builds the webhooks of branch and tag pushes
// with the simulated forge (GitHub: push plus create/delete; GitLab: Push
// Hook or Tag Push Hook) and checks what the decoders make of each
// delivery, directly and through the endpoints.
func TestDecodeSimulatedTagPushes(t *testing.T) {
	f := state.New(state.WithClock(func() time.Time { return time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC) }))
	alice := f.AddUser("alice", "Alice", "alice@example.com", "", false)
	repo, err := f.CreateRepo("acme/llm", "main", map[string]string{"README.md": "hi\n"}, state.Signature{Name: "A", Email: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	one := func(evs []state.Event, err error) state.Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1", len(evs))
		}
		return evs[0]
	}
	onMain, evs, err := f.PushFiles("acme/llm", "main", "alice", "Base config", []state.FileChange{{Path: "lr.yaml", Content: []byte("lr: 1e-4\n")}})
	mainPushed := one(evs, err)
	onBranch, evs, err := f.PushFiles("acme/llm", "exp/cosine", "alice", "Cosine schedule", []state.FileChange{{Path: "lr.yaml", Content: []byte("schedule: cosine\n")}})
	branchCreated := one(evs, err)
	tagCreated := one(f.PushTag("acme/llm", "alice", "release/v1", "main"))
	tagMoved := one(f.PushTag("acme/llm", "alice", "release/v1", "exp/cosine"))
	tagDeleted := one(f.RemoveTag("acme/llm", "alice", "release/v1"))
	if onMain.SHA == onBranch.SHA || !isFullSHA(onMain.SHA) || !isFullSHA(onBranch.SHA) {
		t.Fatalf("commits %q and %q: want two distinct SHAs", onMain.SHA, onBranch.SHA)
	}

	aliceActor := event.Actor{ID: alice.ID, Login: "alice"}
	branchIgnored := map[event.Forge]string{event.GitHub: "github branch push not handled", event.GitLab: "gitlab branch push not handled"}
	for _, sf := range simForges() {
		t.Run(string(sf.forge), func(t *testing.T) {
			r := event.Repo{Forge: sf.forge, Host: sf.host, Path: "acme/llm", ID: repo.ID, DefaultBranch: "main", WebURL: sf.base + "/acme/llm"}
			tagPush := func(before, after string) *event.TagPush {
				return &event.TagPush{Repo: r, Tag: "release/v1", Before: before, After: after, Actor: aliceActor}
			}
			// What each delivery of an event decodes to, by event name.
			type decoded map[string]event.Event
			ignored := func(reason string) event.Event { return &event.Ignored{Reason: reason} }
			tests := []struct {
				name string
				ev   state.Event
				want map[event.Forge]decoded
			}{
				{"branch pushed", mainPushed, map[event.Forge]decoded{
					event.GitHub: {"push": ignored(branchIgnored[event.GitHub])},
					event.GitLab: {"Push Hook": ignored(branchIgnored[event.GitLab])},
				}},
				{"branch created", branchCreated, map[event.Forge]decoded{
					event.GitHub: {"push": ignored(branchIgnored[event.GitHub]), "create": ignored(`github create of ref type "branch" not handled`)},
					event.GitLab: {"Push Hook": ignored(branchIgnored[event.GitLab])},
				}},
				{"tag created", tagCreated, map[event.Forge]decoded{
					event.GitHub: {"push": tagPush("", onMain.SHA), "create": ignored("tag handled through push")},
					event.GitLab: {"Tag Push Hook": tagPush("", onMain.SHA)},
				}},
				{"tag moved", tagMoved, map[event.Forge]decoded{
					event.GitHub: {"push": tagPush(onMain.SHA, onBranch.SHA)},
					event.GitLab: {"Tag Push Hook": tagPush(onMain.SHA, onBranch.SHA)},
				}},
				{"tag deleted", tagDeleted, map[event.Forge]decoded{
					event.GitHub: {"push": tagPush(onBranch.SHA, ""), "delete": ignored("tag handled through push")},
					event.GitLab: {"Tag Push Hook": tagPush(onBranch.SHA, "")},
				}},
			}
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					want := tt.want[sf.forge]
					reqs, err := sf.deliver(t.Context(), tt.ev, sf.hook, "sim-tag-"+strconv.Itoa(i), sf.base)
					if err != nil {
						t.Fatal(err)
					}
					if len(reqs) != len(want) {
						t.Fatalf("%d deliveries, want %d (%v)", len(reqs), len(want), reflect.ValueOf(want).MapKeys())
					}
					for _, req := range reqs {
						name := req.Header.Get(sf.eventHdr)
						w, ok := want[name]
						if !ok {
							t.Fatalf("unexpected delivery %q", name)
						}
						body, err := io.ReadAll(req.Body)
						if err != nil {
							t.Fatal(err)
						}
						got, err := sf.decode(name, body)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						if !reflect.DeepEqual(got, w) {
							t.Fatalf("%s decoded to %#v\nwant %#v", name, got, w)
						}

						// Through the endpoint: a TagPush is recorded as decoded,
						// anything else answered 200 without a Record call.
						id := gitlabDeliveryID(req.Header)
						if sf.forge == event.GitHub {
							id = req.Header.Get("X-GitHub-Delivery")
						}
						if id == "" {
							t.Fatalf("%s: delivery without an id", name)
						}
						srvReq := httptest.NewRequest(http.MethodPost, sf.hook.URL, bytes.NewReader(body))
						srvReq.Header = req.Header.Clone()
						rec := &fakeRecorder{}
						rw := httptest.NewRecorder()
						sf.handler(rec).ServeHTTP(rw, srvReq)
						calls := rec.take()
						if _, isTag := w.(*event.TagPush); !isTag {
							if rw.Code != http.StatusOK || len(calls) != 0 {
								t.Fatalf("%s: endpoint answered %d with %d Record calls, want 200 and none: %s", name, rw.Code, len(calls), rw.Body)
							}
							continue
						}
						if rw.Code != http.StatusAccepted || len(calls) != 1 {
							t.Fatalf("%s: endpoint answered %d with %d Record calls, want 202 and one: %s", name, rw.Code, len(calls), rw.Body)
						}
						if calls[0].ID != id || calls[0].Event != name || calls[0].Forge != sf.forge || !reflect.DeepEqual(calls[0].Payload, w) {
							t.Errorf("recorded %+v, want id %s, event %s, payload %#v", calls[0], id, name, w)
						}
					}
				})
			}
		})
	}
}
