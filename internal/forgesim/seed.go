package forgesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Seed is the initial content of a forge: see testdata/seed.yaml.
type Seed struct {
	Users []UserRequest `json:"users" yaml:"users"`
	Orgs  []string      `json:"orgs" yaml:"orgs"`
	Repos []SeedRepo    `json:"repos" yaml:"repos"`
}

// SeedRepo is a repository with its files, members and webhooks.
type SeedRepo struct {
	FullName      string                  `json:"full_name" yaml:"full_name"`
	DefaultBranch string                  `json:"default_branch" yaml:"default_branch"`
	Org           bool                    `json:"org" yaml:"org"`
	Files         map[string]string       `json:"files" yaml:"files"`
	Members       map[string]*AccessLevel `json:"members" yaml:"members"` // login -> level
	Hooks         []HookRequest           `json:"hooks" yaml:"hooks"`
}

// LoadSeed reads a seed in YAML or JSON (a document starting with "{") and
// applies it: users, then organisations, then repositories. Unknown keys are
// errors, so a misspelt key does not silently do nothing.
func (s *Server) LoadSeed(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading seed: %w", err)
	}
	var seed Seed
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&seed); err != nil {
			return fmt.Errorf("parsing JSON seed: %w", err)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&seed); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("parsing YAML seed: %w", err)
		}
	}
	return s.ApplySeed(seed)
}

// ApplySeed creates what seed describes; it stops at the first error.
func (s *Server) ApplySeed(seed Seed) error {
	for i, u := range seed.Users {
		if err := required("login", u.Login); err != nil {
			return fmt.Errorf("seed user #%d: %w", i+1, err)
		}
		s.forge.AddUser(u.Login, u.Name, u.Email, u.Token, u.Bot)
	}
	for _, o := range seed.Orgs {
		if err := required("org login", o); err != nil {
			return fmt.Errorf("seed orgs: %w", err)
		}
		s.forge.AddOrg(o)
	}
	for _, r := range seed.Repos {
		if _, err := s.createRepo(RepoRequest{FullName: r.FullName, DefaultBranch: r.DefaultBranch, Files: r.Files, Org: r.Org}); err != nil {
			return fmt.Errorf("seed repository %q: %w", r.FullName, err)
		}
		for _, login := range slices.Sorted(maps.Keys(r.Members)) {
			lvl := r.Members[login]
			if lvl == nil {
				return fmt.Errorf("seed repository %s: member %q: missing access level: %w", r.FullName, login, state.ErrInvalid)
			}
			if err := s.forge.SetAccess(r.FullName, login, state.AccessLevel(*lvl)); err != nil {
				return fmt.Errorf("seed repository %s: member %q: %w", r.FullName, login, err)
			}
		}
		for _, h := range r.Hooks {
			if _, err := s.addHook(r.FullName, h); err != nil {
				return fmt.Errorf("seed repository %s: %w", r.FullName, err)
			}
		}
	}
	return nil
}
