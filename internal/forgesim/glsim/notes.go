package glsim

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Notes are the model's comments: on an issue or merge request (Issue set)
// or on a commit (CommitSHA set). GitLab keeps commit notes in discussions;
// the simulator gives every commit note its own discussion, whose id is
// derived from the note id so that it needs no storage.

// discussionID is the 40-hex id of the discussion holding note id.
func discussionID(noteID int64) string {
	sum := sha1.Sum([]byte("glsim-discussion:" + strconv.FormatInt(noteID, 10)))
	return hex.EncodeToString(sum[:])
}

// noteTarget says what a note is attached to, for rendering.
type noteTarget struct {
	kind      string // "Issue", "MergeRequest", "Commit"
	id, iid   any    // noteable_id and noteable_iid (null for commits)
	projectID int64
	discuss   bool // rendered inside a discussion
}

// noteEntity is GitLab's Note entity.
func noteEntity(cm state.Comment, author state.User, t noteTarget, base string) obj {
	var typ any
	if t.discuss {
		typ = "DiscussionNote"
	}
	return obj{
		"id":               cm.ID,
		"type":             typ,
		"body":             cm.Body,
		"attachment":       nil,
		"author":           userBasic(author, base),
		"created_at":       apiTime(cm.CreatedAt),
		"updated_at":       apiTime(cm.UpdatedAt),
		"system":           false,
		"noteable_id":      t.id,
		"noteable_type":    t.kind,
		"project_id":       t.projectID,
		"noteable_iid":     t.iid,
		"resolvable":       false,
		"confidential":     false,
		"internal":         false,
		"imported":         false,
		"imported_from":    "none",
		"commands_changes": obj{},
	}
}

func issueTarget(kind noteableKind, repo *state.RepoInfo, iid int64) noteTarget {
	return noteTarget{kind: kind.noteableType(), id: issueID(repo.ID, int(iid)), iid: iid, projectID: repo.ID}
}

func commitTarget(repo *state.RepoInfo) noteTarget {
	return noteTarget{kind: "Commit", projectID: repo.ID, discuss: true}
}

// renderNotes resolves note authors (outside any forge lock) and renders.
func (c *call) renderNotes(notes []state.Comment, t noteTarget) []obj {
	out := make([]obj, 0, len(notes))
	for _, n := range notes {
		out = append(out, noteEntity(n, c.lookupUser(n.Author), t, c.base()))
	}
	return out
}

// issueNotes loads the notes of an issue or merge request, answering 404 as
// GitLab's find_noteable does ("404 Issue Not Found").
func (s *server) issueNotes(c *call, kind noteableKind) (*state.RepoInfo, int64, []state.Comment, bool) {
	iid, ok := c.intVar("iid")
	if !ok {
		return nil, 0, nil, false
	}
	info, ok := c.project()
	if !ok {
		return nil, 0, nil, false
	}
	var notes []state.Comment
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		if _, ok := findNoteable(r, kind, iid); !ok {
			return errStatus(http.StatusNotFound, "404 "+kind.noteableType()+" Not Found")
		}
		for _, n := range r.Comments(int(iid), "") {
			notes = append(notes, copyComment(n))
		}
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return nil, 0, nil, false
	}
	return info, iid, notes, true
}

func copyComment(n *state.Comment) state.Comment {
	cp := *n
	cp.Reactions = slices.Clone(n.Reactions)
	return cp
}

// listNotes sorts like GitLab: created_at descending unless asked otherwise.
func (s *server) listNotes(kind noteableKind) func(c *call) {
	return func(c *call) {
		orderBy, dir := c.params.get("order_by"), c.params.get("sort")
		var errs []string
		if orderBy != "" && orderBy != "created_at" && orderBy != "updated_at" {
			errs = append(errs, "order_by does not have a valid value")
		}
		if dir != "" && dir != "asc" && dir != "desc" {
			errs = append(errs, "sort does not have a valid value")
		}
		if c.rejectParams(errs) {
			return
		}
		info, iid, notes, ok := s.issueNotes(c, kind)
		if !ok {
			return
		}
		slices.SortStableFunc(notes, func(a, b state.Comment) int {
			ta, tb := a.CreatedAt, b.CreatedAt
			if orderBy == "updated_at" {
				ta, tb = a.UpdatedAt, b.UpdatedAt
			}
			cmp := ta.Compare(tb)
			if cmp == 0 {
				cmp = int(a.ID - b.ID)
			}
			if dir != "asc" {
				cmp = -cmp
			}
			return cmp
		})
		c.json(http.StatusOK, c.renderNotes(paginate(c, notes), issueTarget(kind, info, iid)))
	}
}

func (s *server) getNote(kind noteableKind) func(c *call) {
	return func(c *call) {
		noteID, ok := c.intVar("note_id")
		if !ok {
			return
		}
		info, iid, notes, ok := s.issueNotes(c, kind)
		if !ok {
			return
		}
		for _, n := range notes {
			if n.ID == noteID {
				c.json(http.StatusOK, c.renderNotes([]state.Comment{n}, issueTarget(kind, info, iid))[0])
				return
			}
		}
		c.fail(http.StatusNotFound, "404 Not found")
	}
}

// createNote posts a note as the caller; GitLab announces it with a Note
// Hook, so it goes through Act.
func (s *server) createNote(kind noteableKind) func(c *call) {
	return func(c *call) {
		if !c.require(spec{"body", true}) {
			return
		}
		iid, ok := c.intVar("iid")
		if !ok {
			return
		}
		info, ok := c.project()
		if !ok {
			return
		}
		body := c.params.get("body")
		var note state.Comment
		_, err := s.f.Act(info.FullName, c.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
			i, ok := findNoteable(r, kind, iid)
			if !ok {
				return nil, errStatus(http.StatusNotFound, "404 "+kind.noteableType()+" Not Found")
			}
			if strings.TrimSpace(body) == "" {
				return nil, errBlankNote
			}
			n := s.f.AddComment(r, int(iid), "", body, u.Login)
			note = copyComment(n)
			ev := s.f.NewEvent(state.CommentCreated, r, u)
			ev.Issue, ev.Comment = i.Snapshot(), &note
			return []state.Event{ev}, nil
		})
		if err != nil {
			c.failNote(err)
			return
		}
		c.json(http.StatusCreated, noteEntity(note, c.user, issueTarget(kind, info, iid), c.base()))
	}
}

// errBlankNote is the validation failure of an empty note, which GitLab
// reports as a model error object rather than a string.
var errBlankNote = fmt.Errorf("note can't be blank: %w", state.ErrInvalid)

func (c *call) failNote(err error) {
	if errors.Is(err, errBlankNote) {
		c.json(http.StatusBadRequest, obj{"message": obj{"note": []string{"can't be blank"}}})
		return
	}
	c.failErr(err, "Project")
}

// editNote changes a note's body inside Act, allowing its author or a
// Maintainer (GitLab's admin_note), and reports the edit as GitLab 16.11+
// does with a Note Hook of action "update".
func (s *server) editNote(c *call, info *state.RepoInfo, match func(*state.Comment) bool, body string) (state.Comment, error) {
	lvl := c.accessLevel(info)
	var out state.Comment
	_, err := s.f.Act(info.FullName, c.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		noteID, _ := strconv.ParseInt(c.vars["note_id"], 10, 64)
		n, ok := r.Comment(noteID)
		if !ok || !match(n) {
			return nil, errStatus(http.StatusNotFound, "404 Not found")
		}
		if n.Author != u.Login && lvl < state.Maintainer {
			return nil, errStatus(http.StatusForbidden, "403 Forbidden")
		}
		if strings.TrimSpace(body) == "" {
			return nil, errBlankNote
		}
		n.Body, n.UpdatedAt = body, s.f.Now()
		out = copyComment(n)
		ev := s.f.NewEvent(state.CommentEdited, r, u)
		ev.Comment = &out
		if n.CommitSHA == "" {
			if i, ok := r.Issue(n.Issue); ok {
				ev.Issue = i.Snapshot()
			}
		}
		return []state.Event{ev}, nil
	})
	return out, err
}

func (s *server) updateNote(kind noteableKind) func(c *call) {
	return func(c *call) {
		if !c.require(spec{"body", true}) {
			return
		}
		iid, ok := c.intVar("iid")
		if !ok {
			return
		}
		if _, ok := c.intVar("note_id"); !ok {
			return
		}
		info, _, _, ok := s.issueNotes(c, kind)
		if !ok {
			return
		}
		n, err := s.editNote(c, info, func(n *state.Comment) bool {
			return n.CommitSHA == "" && int64(n.Issue) == iid
		}, c.params.get("body"))
		if err != nil {
			c.failNote(err)
			return
		}
		c.json(http.StatusOK, noteEntity(n, c.lookupUser(n.Author), issueTarget(kind, info, iid), c.base()))
	}
}

// commitNotes resolves :sha and loads its notes (404 Commit Not Found).
func (s *server) commitNotes(c *call) (*state.RepoInfo, string, []state.Comment, bool) {
	info, ok := c.project()
	if !ok {
		return nil, "", nil, false
	}
	var sha string
	var notes []state.Comment
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		cm, ok := resolveRef(r, c.vars["sha"])
		if !ok {
			return errStatus(http.StatusNotFound, "404 Commit Not Found")
		}
		sha = cm.SHA
		for _, n := range r.Comments(0, cm.SHA) {
			notes = append(notes, copyComment(n))
		}
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return nil, "", nil, false
	}
	return info, sha, notes, true
}

// addCommitNote posts a note on a commit as the caller, announced as a
// Note Hook on a Commit.
func (s *server) addCommitNote(c *call, info *state.RepoInfo, ref, body string) (state.Comment, error) {
	var note state.Comment
	_, err := s.f.Act(info.FullName, c.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		cm, ok := resolveRef(r, ref)
		if !ok {
			return nil, errStatus(http.StatusNotFound, "404 Commit Not Found")
		}
		if strings.TrimSpace(body) == "" {
			return nil, errBlankNote
		}
		note = copyComment(s.f.AddComment(r, 0, cm.SHA, body, u.Login))
		ev := s.f.NewEvent(state.CommentCreated, r, u)
		ev.Comment = &note
		// The commit rides along so the Note Hook can describe it (message,
		// timestamp) without access to the forge.
		ev.Commits = []state.Commit{*cm}
		return []state.Event{ev}, nil
	})
	return note, err
}

// commitNoteEntity is GitLab's CommitNote entity (the commit comments API).
func commitNoteEntity(n state.Comment, author state.User, base string) obj {
	return obj{
		"note":       n.Body,
		"path":       nil,
		"line":       nil,
		"line_type":  nil,
		"author":     userBasic(author, base),
		"created_at": apiTime(n.CreatedAt),
	}
}

func (s *server) listCommitComments(c *call) {
	_, _, notes, ok := s.commitNotes(c)
	if !ok {
		return
	}
	page := paginate(c, notes)
	out := make([]obj, 0, len(page))
	for _, n := range page {
		out = append(out, commitNoteEntity(n, c.lookupUser(n.Author), c.base()))
	}
	c.json(http.StatusOK, out)
}

func (s *server) createCommitComment(c *call) {
	if !c.require(spec{"note", true}) {
		return
	}
	info, ok := c.project()
	if !ok {
		return
	}
	n, err := s.addCommitNote(c, info, c.vars["sha"], c.params.get("note"))
	if err != nil {
		c.failNote(err)
		return
	}
	c.json(http.StatusCreated, commitNoteEntity(n, c.user, c.base()))
}

// discussionEntity wraps one commit note in its discussion.
func (c *call) discussionEntity(n state.Comment, info *state.RepoInfo) obj {
	return obj{
		"id":              discussionID(n.ID),
		"individual_note": false,
		"notes":           c.renderNotes([]state.Comment{n}, commitTarget(info)),
	}
}

func (s *server) listCommitDiscussions(c *call) {
	info, _, notes, ok := s.commitNotes(c)
	if !ok {
		return
	}
	page := paginate(c, notes)
	out := make([]obj, 0, len(page))
	for _, n := range page {
		out = append(out, c.discussionEntity(n, info))
	}
	c.json(http.StatusOK, out)
}

func (s *server) getCommitDiscussion(c *call) {
	info, _, notes, ok := s.commitNotes(c)
	if !ok {
		return
	}
	for _, n := range notes {
		if discussionID(n.ID) == c.vars["discussion_id"] {
			c.json(http.StatusOK, c.discussionEntity(n, info))
			return
		}
	}
	c.fail(http.StatusNotFound, "404 Discussion Not Found")
}

func (s *server) createCommitDiscussion(c *call) {
	if !c.require(spec{"body", true}) {
		return
	}
	info, ok := c.project()
	if !ok {
		return
	}
	n, err := s.addCommitNote(c, info, c.vars["sha"], c.params.get("body"))
	if err != nil {
		c.failNote(err)
		return
	}
	c.json(http.StatusCreated, c.discussionEntity(n, info))
}

// updateCommitDiscussionNote is how a bot edits its status note on a commit
// (GitLab's commit comments API cannot edit).
func (s *server) updateCommitDiscussionNote(c *call) {
	if !c.require(spec{"body", true}) {
		return
	}
	if _, ok := c.intVar("note_id"); !ok {
		return
	}
	info, sha, notes, ok := s.commitNotes(c)
	if !ok {
		return
	}
	found := false
	for _, n := range notes {
		found = found || discussionID(n.ID) == c.vars["discussion_id"]
	}
	if !found {
		c.fail(http.StatusNotFound, "404 Discussion Not Found")
		return
	}
	n, err := s.editNote(c, info, func(n *state.Comment) bool {
		return n.CommitSHA == sha && discussionID(n.ID) == c.vars["discussion_id"]
	}, c.params.get("body"))
	if err != nil {
		c.failNote(err)
		return
	}
	c.json(http.StatusOK, c.renderNotes([]state.Comment{n}, commitTarget(info))[0])
}

// awardEntity is GitLab's AwardEmoji entity. The model stores awards as
// "name:login" on the note, without ids or times: ids derive from the note
// id and position, times are the note's creation time.
func awardEntity(noteID int64, idx int, name string, user state.User, at any, base string) obj {
	return obj{
		"id":             noteID*1000 + int64(idx) + 1,
		"name":           name,
		"user":           userBasic(user, base),
		"created_at":     at,
		"updated_at":     at,
		"awardable_id":   noteID,
		"awardable_type": "Note",
		"url":            nil,
	}
}

// noteForAward finds the note of an issue or merge request that an award
// endpoint addresses.
func (s *server) noteForAward(c *call, kind noteableKind) (*state.RepoInfo, int64, bool) {
	noteID, ok := c.intVar("note_id")
	if !ok {
		return nil, 0, false
	}
	info, _, notes, ok := s.issueNotes(c, kind)
	if !ok {
		return nil, 0, false
	}
	for _, n := range notes {
		if n.ID == noteID {
			return info, noteID, true
		}
	}
	c.fail(http.StatusNotFound, "404 Not found")
	return nil, 0, false
}

func (s *server) listNoteAwards(kind noteableKind) func(c *call) {
	return func(c *call) {
		info, noteID, ok := s.noteForAward(c, kind)
		if !ok {
			return
		}
		var note state.Comment
		if err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
			n, ok := r.Comment(noteID)
			if !ok {
				return errStatus(http.StatusNotFound, "404 Not found")
			}
			note = copyComment(n)
			return nil
		}); err != nil {
			c.failErr(err, "Project")
			return
		}
		out := make([]obj, 0, len(note.Reactions))
		for i, reaction := range note.Reactions {
			name, login, _ := strings.Cut(reaction, ":")
			out = append(out, awardEntity(noteID, i, name, c.lookupUser(login), apiTime(note.CreatedAt), c.base()))
		}
		c.json(http.StatusOK, paginate(c, out))
	}
}

// createNoteAward adds an award emoji to a note. GitLab reports a repeated
// award through not_found! with the model's validation message.
func (s *server) createNoteAward(kind noteableKind) func(c *call) {
	return func(c *call) {
		if !c.require(spec{"name", false}) {
			return
		}
		info, noteID, ok := s.noteForAward(c, kind)
		if !ok {
			return
		}
		name := strings.Trim(c.params.get("name"), ":")
		var idx int
		var at any
		err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
			n, ok := r.Comment(noteID)
			if !ok {
				return errStatus(http.StatusNotFound, "404 Not found")
			}
			reaction := name + ":" + c.user.Login
			if slices.Contains(n.Reactions, reaction) {
				return errStatus(http.StatusNotFound, "404 Award Emoji Name has already been taken Not Found")
			}
			n.Reactions = append(n.Reactions, reaction)
			idx, at = len(n.Reactions)-1, apiTime(n.CreatedAt)
			return nil
		})
		if err != nil {
			c.failErr(err, "Project")
			return
		}
		c.json(http.StatusCreated, awardEntity(noteID, idx, name, c.user, at, c.base()))
	}
}
