package glsim

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// commitDetail is the Commit entity of GET .../commits/:sha: the basic one
// plus stats, pipeline status and the project id.
func commitDetail(r *state.Repo, cm *state.Commit, base string, stats bool) obj {
	o := commitEntity(cm, projectURL(base, r.FullName))
	o["status"] = nil
	o["last_pipeline"] = nil
	o["project_id"] = r.ID
	if stats {
		add, del := diffStats(r, cm)
		o["stats"] = obj{"additions": add, "deletions": del, "total": add + del}
	}
	return o
}

// statsWanted reads the boolean "stats" option, true unless turned off.
func (c *call) statsWanted(def bool) bool {
	v, ok, err := c.params.boolean("stats")
	if err != nil || !ok {
		return def
	}
	return v
}

func (s *server) getCommit(c *call) {
	info, ok := c.project()
	if !ok {
		return
	}
	stats := c.statsWanted(true)
	var out obj
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		cm, ok := resolveRef(r, c.vars["sha"])
		if !ok {
			return errStatus(http.StatusNotFound, "404 Commit Not Found")
		}
		out = commitDetail(r, cm, c.base(), stats)
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.json(http.StatusOK, out)
}

// listCommits is GET .../repository/commits: the history of ref_name
// (default branch by default), newest first, optionally only commits that
// touched path.
func (s *server) listCommits(c *call) {
	info, ok := c.project()
	if !ok {
		return
	}
	ref, ok := c.params.str("ref_name")
	if !ok || ref == "" {
		ref = "HEAD"
	}
	filter := c.params.get("path")
	firstParent, _, _ := c.params.boolean("first_parent")
	withStats, _, _ := c.params.boolean("with_stats")
	var out []obj
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		head, ok := resolveRef(r, ref)
		if !ok {
			return errStatus(http.StatusNotFound, "404 Commit Not Found")
		}
		var shas []string
		if firstParent {
			for cm := head; cm != nil; {
				shas = append(shas, cm.SHA)
				if len(cm.Parents) == 0 {
					break
				}
				cm, _ = r.Commit(cm.Parents[0])
			}
		} else {
			shas = ancestors(r, head.SHA)
		}
		var commits []*state.Commit
		for _, sha := range shas {
			cm, _ := r.Commit(sha)
			if filter != "" && parentTree(r, cm)[filter] == cm.Tree[filter] {
				continue
			}
			commits = append(commits, cm)
		}
		sort.SliceStable(commits, func(i, j int) bool { return commits[i].Committer.When.After(commits[j].Committer.When) })
		for _, cm := range commits {
			out = append(out, commitDetail(r, cm, c.base(), withStats))
		}
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.json(http.StatusOK, paginate(c, out))
}

// getCommitRefs is GET .../commits/:sha/refs: branches and tags containing
// the commit.
func (s *server) getCommitRefs(c *call) {
	typ := c.params.get("type")
	if typ == "" {
		typ = "all"
	}
	if typ != "branch" && typ != "tag" && typ != "all" {
		c.badParam("type does not have a valid value")
		return
	}
	info, ok := c.project()
	if !ok {
		return
	}
	var out []obj
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		cm, ok := resolveRef(r, c.vars["sha"])
		if !ok {
			return errStatus(http.StatusNotFound, "404 Commit Not Found")
		}
		if typ != "tag" {
			for _, b := range r.Branches() {
				head, _ := r.Branch(b)
				if isAncestor(r, cm.SHA, head) {
					out = append(out, obj{"type": "branch", "name": b})
				}
			}
		}
		if typ != "branch" {
			for _, t := range r.Tags() {
				target, _ := r.Tag(t)
				if isAncestor(r, cm.SHA, target) {
					out = append(out, obj{"type": "tag", "name": t})
				}
			}
		}
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.json(http.StatusOK, paginate(c, out))
}

// createCommit is POST .../repository/commits: several file actions in one
// commit, all or nothing.
func (s *server) createCommit(c *call) {
	errs := c.paramErrors(spec{"branch", false}, spec{"commit_message", false})
	ops, opErrs := parseActions(c.params["actions"])
	errs = append(errs, opErrs...)
	if c.params.get("start_branch") != "" && c.params.get("start_sha") != "" {
		errs = append(errs, "start_branch, start_sha are mutually exclusive")
	}
	if c.rejectParams(errs) {
		return
	}
	info, ok := c.project()
	if !ok || !c.requireAccess(info, state.Developer) {
		return
	}
	req := commitRequest{
		branch: c.params.get("branch"), startBranch: c.params.get("start_branch"),
		message: c.params.get("commit_message"), authorName: c.params.get("author_name"),
		authorEmail: c.params.get("author_email"), ops: ops,
	}
	req.startSHA = c.params.get("start_sha")
	var out obj
	cm, err := s.commit(c, info, req)
	if err == nil {
		err = s.f.WithRepo(info.FullName, func(r *state.Repo) error {
			out = commitDetail(r, cm, c.base(), c.statsWanted(true))
			return nil
		})
	}
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.json(http.StatusCreated, out)
}

func isHexString(s string) bool {
	for _, ch := range s {
		if !strings.ContainsRune("0123456789abcdef", ch) {
			return false
		}
	}
	return true
}

// parseActions validates the actions array of the commits API.
func parseActions(raw any) ([]fileOp, []string) {
	list, ok := raw.([]any)
	if !ok {
		return nil, []string{"actions is missing"}
	}
	if len(list) == 0 {
		return nil, []string{"actions is empty"}
	}
	var ops []fileOp
	var errs []string
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Sprintf("actions[%d] is invalid", i))
			continue
		}
		p := params(m)
		field := func(name string) string { return fmt.Sprintf("actions[%d][%s]", i, name) }
		op := fileOp{action: fileAction(p.get("action")), path: p.get("file_path"), previousPath: p.get("previous_path"), lastCommitID: p.get("last_commit_id")}
		switch op.action {
		case actionCreate, actionUpdate, actionDelete, actionMove, actionChmod:
		default:
			errs = append(errs, field("action")+" does not have a valid value")
		}
		if op.path == "" {
			errs = append(errs, field("file_path")+" is missing")
		} else if !validFilePath(op.path) {
			errs = append(errs, field("file_path")+" should be a valid file path")
		}
		if op.action == actionMove && op.previousPath == "" {
			errs = append(errs, field("previous_path")+" is missing")
		}
		enc := p.get("encoding")
		if enc != "" && enc != "text" && enc != "base64" {
			errs = append(errs, field("encoding")+" does not have a valid value")
		}
		if content, ok := p.str("content"); ok {
			op.content, op.hasContent = decodeContent(content, enc), true
		} else if op.action == actionCreate || op.action == actionUpdate {
			op.hasContent = true // GitLab writes an empty file
		}
		if v, ok, err := p.boolean("execute_filemode"); err != nil {
			errs = append(errs, field("execute_filemode")+" is invalid")
		} else if ok {
			op.exec = &v
		} else if op.action == actionChmod {
			errs = append(errs, field("execute_filemode")+" is missing")
		}
		ops = append(ops, op)
	}
	return ops, errs
}

// tagEntity is GitLab's Tag entity for a lightweight tag.
func tagEntity(r *state.Repo, name, base string) (obj, bool) {
	sha, ok := r.Tag(name)
	if !ok {
		return nil, false
	}
	cm, _ := r.Commit(sha)
	return obj{
		"name":       name,
		"message":    "",
		"target":     sha,
		"commit":     commitEntity(cm, projectURL(base, r.FullName)),
		"release":    nil,
		"protected":  false,
		"created_at": nil,
	}, true
}

func (s *server) getTag(c *call) {
	info, ok := c.project()
	if !ok {
		return
	}
	var out obj
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		t, ok := tagEntity(r, c.vars["tag_name"], c.base())
		if !ok {
			return errStatus(http.StatusNotFound, "404 Tag Not Found")
		}
		out = t
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.json(http.StatusOK, out)
}

// listTags orders by commit date, newest first, by default ("updated",
// "desc"), or by name; search and regex filter as for branches.
func (s *server) listTags(c *call) {
	orderBy := c.params.get("order_by")
	if orderBy == "" {
		orderBy = "updated"
	}
	sortDir := c.params.get("sort")
	if sortDir == "" {
		sortDir = "desc"
	}
	var errs []string
	if orderBy != "name" && orderBy != "updated" && orderBy != "version" {
		errs = append(errs, "order_by does not have a valid value")
	}
	if sortDir != "asc" && sortDir != "desc" {
		errs = append(errs, "sort does not have a valid value")
	}
	if c.rejectParams(errs) {
		return
	}
	info, ok := c.project()
	if !ok {
		return
	}
	search := c.params.get("search")
	var re *regexp.Regexp
	if expr := c.params.get("regex"); expr != "" {
		var err error
		if re, err = regexp.Compile(expr); err != nil {
			c.badParam("regex is invalid")
			return
		}
	}
	var out []obj
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		type tagged struct {
			name string
			cm   *state.Commit
		}
		var tags []tagged
		for _, t := range r.Tags() {
			if !matchSearch(t, search) || (re != nil && !re.MatchString(t)) {
				continue
			}
			sha, _ := r.Tag(t)
			cm, _ := r.Commit(sha)
			tags = append(tags, tagged{t, cm})
		}
		ascending := func(a, b tagged) bool {
			if orderBy == "updated" && !a.cm.Committer.When.Equal(b.cm.Committer.When) {
				return a.cm.Committer.When.Before(b.cm.Committer.When)
			}
			return a.name < b.name
		}
		sort.SliceStable(tags, func(i, j int) bool {
			if sortDir == "desc" {
				return ascending(tags[j], tags[i])
			}
			return ascending(tags[i], tags[j])
		})
		for _, t := range tags {
			e, _ := tagEntity(r, t.name, c.base())
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.json(http.StatusOK, paginate(c, out))
}

// createTag is POST .../repository/tags, a lightweight tag (a message would
// make an annotated tag, which the model does not have) announced as a tag
// push.
func (s *server) createTag(c *call) {
	if !c.require(spec{"tag_name", true}, spec{"ref", true}) {
		return
	}
	info, ok := c.project()
	if !ok || !c.requireAccess(info, state.Developer) {
		return
	}
	name, ref := c.params.get("tag_name"), c.params.get("ref")
	var out obj
	_, err := s.f.Act(info.FullName, c.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		if !validRefName(name) {
			return nil, errStatus(http.StatusBadRequest, "Tag name invalid")
		}
		if _, exists := r.Tag(name); exists {
			return nil, errStatus(http.StatusBadRequest, fmt.Sprintf("Tag %s already exists", name))
		}
		cm, ok := resolveRef(r, ref)
		if !ok {
			return nil, errStatus(http.StatusBadRequest, fmt.Sprintf("Target %s is invalid", ref))
		}
		if err := r.SetTag(name, cm.SHA); err != nil {
			return nil, fmt.Errorf("creating tag %s: %w", name, err)
		}
		out, _ = tagEntity(r, name, c.base())
		ev := s.f.NewEvent(state.TagPushed, r, u)
		ev.Ref, ev.Before, ev.After = "refs/tags/"+name, state.ZeroSHA, cm.SHA
		return []state.Event{ev}, nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.json(http.StatusCreated, out)
}

func (s *server) deleteTag(c *call) {
	info, ok := c.project()
	if !ok || !c.requireAccess(info, state.Developer) {
		return
	}
	name := c.vars["tag_name"]
	_, err := s.f.Act(info.FullName, c.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		before, ok := r.Tag(name)
		if !ok {
			return nil, errStatus(http.StatusNotFound, "404 Tag Not Found")
		}
		if err := r.DeleteTag(name); err != nil {
			return nil, fmt.Errorf("deleting tag %s: %w", name, err)
		}
		ev := s.f.NewEvent(state.TagDeleted, r, u)
		ev.Ref, ev.Before, ev.After = "refs/tags/"+name, before, state.ZeroSHA
		return []state.Event{ev}, nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.noContent()
}
