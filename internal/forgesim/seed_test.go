package forgesim

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestLoadSeedExampleFile(t *testing.T) {
	f, err := os.Open("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	srv := New(fakeOptions()...)
	defer srv.Close()
	if err := srv.LoadSeed(f); err != nil {
		t.Fatal(err)
	}
	fg := srv.Forge()
	if u, err := fg.UserByToken("expbot-token"); err != nil || u.Login != "expbot" || !u.Bot {
		t.Errorf("bot user: %+v, %v", u, err)
	}
	if _, ok := fg.OrgID("acme"); !ok {
		t.Errorf("acme is not an organisation")
	}
	for repo, want := range map[string]map[string]state.AccessLevel{
		"acme/llm":    {"alice": state.Maintainer, "bob": state.Reporter, "expbot": state.Developer},
		"acme/vision": {"alice": state.Maintainer, "bob": state.NoAccess, "expbot": state.Developer},
	} {
		for login, lvl := range want {
			if got, err := fg.Access(repo, login); err != nil || got != lvl {
				t.Errorf("%s %s access %d (%v), want %d", repo, login, got, err, lvl)
			}
		}
	}
	st, err := srv.RepoState("acme/llm")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Files["main"]["configs/base.yaml"], "lr: 0.001") || len(st.Hooks) != 1 || st.Hooks[0].Flavor != GitHub {
		t.Errorf("acme/llm state: %+v", st)
	}
	if st.Commits[0].Author.Name != "forgesim" {
		t.Errorf("first commit author %+v, want forgesim (acme is no user)", st.Commits[0].Author)
	}
}

func TestLoadSeed(t *testing.T) {
	tests := []struct {
		name    string
		seed    string
		wantErr string // empty: must load
		check   func(t *testing.T, s *Server)
	}{
		{
			name: "JSON",
			seed: `{"users":[{"login":"u","token":"t"}],"orgs":["o"],
				"repos":[{"full_name":"u/r","default_branch":"dev","files":{"a":"1"},"members":{"u":"admin"},
				"hooks":[{"flavor":"gitlab","url":"http://h.test","secret":"x"}]}]}`,
			check: func(t *testing.T, s *Server) {
				st, err := s.RepoState("u/r")
				if err != nil || st.DefaultBranch != "dev" || st.Files["dev"]["a"] != "1" || st.Hooks[0].Flavor != GitLab {
					t.Errorf("state %+v, %v", st, err)
				}
				if st.Commits[0].Author.Name != "u" {
					t.Errorf("first commit by %+v, want the owner user u", st.Commits[0].Author)
				}
			},
		},
		{
			name: "YAML with numeric and GitHub levels",
			seed: "users:\n  - login: u\n  - login: v\nrepos:\n  - full_name: g/sub/r\n    org: true\n    members:\n      u: 30\n      v: triage\n",
			check: func(t *testing.T, s *Server) {
				if lvl, _ := s.Forge().Access("g/sub/r", "v"); lvl != state.Reporter {
					t.Errorf("v access %d, want reporter", lvl)
				}
				if _, ok := s.Forge().OrgID("g"); !ok {
					t.Errorf("org: true did not make g an organisation")
				}
			},
		},
		{name: "empty", seed: "", check: func(t *testing.T, s *Server) {}},
		{name: "misspelt key", seed: "user:\n  - login: u\n", wantErr: "field user not found"},
		{name: "misspelt JSON key", seed: `{"repos":[{"fullname":"a/b"}]}`, wantErr: `unknown field "fullname"`},
		{name: "bad level", seed: "users: [{login: u}]\nrepos:\n  - full_name: u/r\n    members: {u: boss}\n", wantErr: `access level "boss"`},
		{name: "member without level", seed: "users: [{login: u}]\nrepos:\n  - full_name: u/r\n    members: {u: }\n", wantErr: "access level"},
		{name: "unknown member", seed: "repos:\n  - full_name: u/r\n    members: {ghost: read}\n", wantErr: `member "ghost"`},
		{name: "bad hook", seed: "repos:\n  - full_name: u/r\n    hooks: [{flavor: svn, url: http://x}]\n", wantErr: "svn"},
		{name: "repo twice", seed: "repos: [{full_name: u/r}, {full_name: u/r}]\n", wantErr: "already exists"},
		{name: "user without login", seed: "users: [{name: x}]\n", wantErr: "missing login"},
		{name: "not YAML", seed: "repos: [", wantErr: "parsing YAML seed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(fakeOptions()...)
			defer s.Close()
			err := s.LoadSeed(strings.NewReader(tc.seed))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestLoadSeedReadError(t *testing.T) {
	s := New(fakeOptions()...)
	defer s.Close()
	boom := errors.New("disk on fire")
	if err := s.LoadSeed(errReader{boom}); !errors.Is(err, boom) {
		t.Errorf("err %v, want it to wrap the read error", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
