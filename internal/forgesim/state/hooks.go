package state

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Scope is where a hook or a label lives: a repository (by full name or id)
// or, with Namespace set, an organisation (GitHub) or group (GitLab), which
// must have been added with AddOrg.
type Scope struct {
	Repo      string
	Namespace string
}

func (s Scope) String() string {
	if s.Namespace != "" {
		return "namespace " + s.Namespace
	}
	return "repository " + s.Repo
}

// Label is a repository's, organisation's or group's issue label.
type Label struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Color       string    `json:"color"` // as the API face stores it
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// namespace is what an organisation or group holds besides repositories.
type namespace struct {
	hooks   []*Hook
	labels  []*Label
	members map[string]AccessLevel
}

func (f *Forge) namespace(path string) (*namespace, error) {
	if _, ok := f.orgs[path]; !ok {
		return nil, fmt.Errorf("namespace %s: %w", path, ErrNotFound)
	}
	n := f.ns[path]
	if n == nil {
		n = &namespace{members: map[string]AccessLevel{}}
		f.ns[path] = n
	}
	return n, nil
}

// SetNamespaceAccess grants a user a role in an organisation or group
// (Owner: may manage its hooks).
func (f *Forge) SetNamespaceAccess(path, login string, level AccessLevel) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[login]; !ok {
		return fmt.Errorf("user %q: %w", login, ErrNotFound)
	}
	n, err := f.namespace(path)
	if err != nil {
		return err
	}
	n.members[login] = level
	return nil
}

// NamespaceAccess reports a user's role in an organisation or group.
func (f *Forge) NamespaceAccess(path, login string) (AccessLevel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.namespace(path)
	if err != nil {
		return NoAccess, err
	}
	return n.members[login], nil
}

// hookList returns the hooks slice of a scope; the lock must be held.
func (f *Forge) hookList(s Scope) (*[]*Hook, error) {
	if s.Namespace != "" {
		n, err := f.namespace(s.Namespace)
		if err != nil {
			return nil, err
		}
		return &n.hooks, nil
	}
	r, err := f.repo(s.Repo)
	if err != nil {
		return nil, err
	}
	return &r.hooks, nil
}

func copyHook(h *Hook) Hook {
	c := *h
	c.Events = slices.Clone(h.Events)
	c.Options = maps.Clone(h.Options)
	return c
}

func copyHooks(hs []*Hook) []Hook {
	out := make([]Hook, len(hs))
	for i, h := range hs {
		out[i] = copyHook(h)
	}
	return out
}

// ScopeHooks lists the hooks registered on a scope.
func (f *Forge) ScopeHooks(s Scope) ([]Hook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.hookList(s)
	if err != nil {
		return nil, err
	}
	return copyHooks(*l), nil
}

// ScopeHook returns one hook of a scope.
func (f *Forge) ScopeHook(s Scope, id int64) (Hook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.hookList(s)
	if err != nil {
		return Hook{}, err
	}
	for _, h := range *l {
		if h.ID == id {
			return copyHook(h), nil
		}
	}
	return Hook{}, fmt.Errorf("hook %d of %s: %w", id, s, ErrNotFound)
}

// CreateHook registers h on a scope, giving it an id.
func (f *Forge) CreateHook(s Scope, h Hook) (Hook, error) {
	if h.Flavor != "github" && h.Flavor != "gitlab" {
		return Hook{}, fmt.Errorf("hook flavor %q must be github or gitlab: %w", h.Flavor, ErrInvalid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.hookList(s)
	if err != nil {
		return Hook{}, err
	}
	c := copyHook(&h)
	c.ID, c.CreatedAt, c.Namespace = f.NextID(), f.now(), s.Namespace
	c.NamespaceID = f.orgs[s.Namespace] // 0 for a repository's hook
	*l = append(*l, &c)
	return copyHook(&c), nil
}

// UpdateHook changes a hook in place through fn.
func (f *Forge) UpdateHook(s Scope, id int64, fn func(h *Hook) error) (Hook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.hookList(s)
	if err != nil {
		return Hook{}, err
	}
	for _, h := range *l {
		if h.ID == id {
			c := copyHook(h)
			if err := fn(&c); err != nil {
				return Hook{}, err
			}
			c.ID, c.Namespace, c.NamespaceID, c.Flavor = h.ID, h.Namespace, h.NamespaceID, h.Flavor
			*h = c
			return copyHook(h), nil
		}
	}
	return Hook{}, fmt.Errorf("hook %d of %s: %w", id, s, ErrNotFound)
}

// DeleteHook removes a hook.
func (f *Forge) DeleteHook(s Scope, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.hookList(s)
	if err != nil {
		return err
	}
	for i, h := range *l {
		if h.ID == id {
			*l = slices.Delete(*l, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("hook %d of %s: %w", id, s, ErrNotFound)
}

// DeliveryHooks returns the active hooks that hear about events in a
// repository: its own, then those of each organisation or group it lies
// in, outermost first (GitLab group hooks reach subgroups' projects).
func (f *Forge) DeliveryHooks(repoID int64) ([]Hook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.byID[repoID]
	if !ok {
		return nil, fmt.Errorf("repository %d: %w", repoID, ErrNotFound)
	}
	var out []Hook
	for _, h := range r.hooks {
		if !h.Inactive {
			out = append(out, copyHook(h))
		}
	}
	parts := strings.Split(r.FullName, "/")
	for i := 1; i < len(parts); i++ {
		n := f.ns[strings.Join(parts[:i], "/")]
		if n == nil {
			continue
		}
		for _, h := range n.hooks {
			if !h.Inactive {
				out = append(out, copyHook(h))
			}
		}
	}
	return out, nil
}

// labelList returns the labels slice of a scope; the lock must be held.
func (f *Forge) labelList(s Scope) (*[]*Label, error) {
	if s.Namespace != "" {
		n, err := f.namespace(s.Namespace)
		if err != nil {
			return nil, err
		}
		return &n.labels, nil
	}
	r, err := f.repo(s.Repo)
	if err != nil {
		return nil, err
	}
	return &r.labels, nil
}

// Labels lists a scope's labels in creation order.
func (f *Forge) Labels(s Scope) ([]Label, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.labelList(s)
	if err != nil {
		return nil, err
	}
	out := make([]Label, len(*l))
	for i, lb := range *l {
		out[i] = *lb
	}
	return out, nil
}

// FindLabel returns the first label of a scope that match accepts.
func (f *Forge) FindLabel(s Scope, match func(Label) bool) (Label, error) {
	labels, err := f.Labels(s)
	if err != nil {
		return Label{}, err
	}
	for _, lb := range labels {
		if match(lb) {
			return lb, nil
		}
	}
	return Label{}, fmt.Errorf("label of %s: %w", s, ErrNotFound)
}

// CreateLabel adds a label; a label of the same name (any case) exists
// already is ErrExists.
func (f *Forge) CreateLabel(s Scope, lb Label) (Label, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.labelList(s)
	if err != nil {
		return Label{}, err
	}
	for _, o := range *l {
		if strings.EqualFold(o.Name, lb.Name) {
			return Label{}, fmt.Errorf("label %q of %s: %w", lb.Name, s, ErrExists)
		}
	}
	lb.ID, lb.CreatedAt = f.NextID(), f.now()
	c := lb
	*l = append(*l, &c)
	return lb, nil
}

// UpdateLabel changes label id through fn; renaming onto another label's
// name is ErrExists.
func (f *Forge) UpdateLabel(s Scope, id int64, fn func(lb *Label)) (Label, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.labelList(s)
	if err != nil {
		return Label{}, err
	}
	i := slices.IndexFunc(*l, func(lb *Label) bool { return lb.ID == id })
	if i < 0 {
		return Label{}, fmt.Errorf("label %d of %s: %w", id, s, ErrNotFound)
	}
	c := *(*l)[i]
	fn(&c)
	for _, o := range *l {
		if o.ID != id && strings.EqualFold(o.Name, c.Name) {
			return Label{}, fmt.Errorf("label %q of %s: %w", c.Name, s, ErrExists)
		}
	}
	c.ID = id
	*(*l)[i] = c
	return c, nil
}

// DeleteLabel removes label id.
func (f *Forge) DeleteLabel(s Scope, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.labelList(s)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(*l, func(lb *Label) bool { return lb.ID == id })
	if i < 0 {
		return fmt.Errorf("label %d of %s: %w", id, s, ErrNotFound)
	}
	*l = slices.Delete(*l, i, i+1)
	return nil
}

// Org resolves an organisation or group by path or, for GitLab, by its
// numeric id given as a decimal string.
func (f *Forge) Org(ref string) (path string, id int64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.orgs[ref]; ok {
		return ref, id, nil
	}
	for p, id := range f.orgs {
		if fmt.Sprint(id) == ref {
			return p, id, nil
		}
	}
	return "", 0, fmt.Errorf("namespace %s: %w", ref, ErrNotFound)
}
