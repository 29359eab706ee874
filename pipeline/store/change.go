package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Check validates a change before a driver stores it and returns the
// status it sets (Pending when the change names none).
func (c Change) Check() (Status, error) {
	status := c.Status
	if status == "" {
		status = Pending
	}
	switch {
	case c.Repo.Forge == "" || c.Repo.Path == "" || c.Key == "":
		return "", errors.New("repository and key are required")
	case c.Desired != Active && c.Desired != Retired:
		return "", fmt.Errorf("desired state %q is neither active nor retired", c.Desired)
	case status != Pending && status != Invalid:
		return "", fmt.Errorf("a change sets status pending or invalid, not %q", status)
	case len(c.Request) > 0 && !json.Valid(c.Request):
		return "", errors.New("request is not valid JSON")
	}
	return status, nil
}

// PlanChange is ApplyChange's rule, the same for every driver: what c makes
// of the stored experiment old (nil when there is none), and whether that
// is to be written. A driver inserts next when old is nil and updates it
// otherwise. Only what matters bumps the generation; a retire of an
// experiment never made makes none.
func PlanChange(old *Experiment, c Change, now time.Time) (next Experiment, write bool, err error) {
	status, err := c.Check()
	if err != nil {
		return Experiment{}, false, err
	}
	request := c.Request
	if len(request) == 0 {
		request = nil
	}
	if old == nil {
		if c.Desired == Retired {
			return Experiment{}, false, nil
		}
		return Experiment{
			Repo: c.Repo, Key: c.Key, Desired: c.Desired, DeleteBranch: c.DeleteBranch,
			Generation: 1, Status: status, Detail: c.Detail,
			Name: c.Name, Branch: c.Branch, BaseRef: c.BaseRef, Request: request,
			SourceURL: c.SourceURL, Requester: c.Requester, Thread: c.Thread,
			CreatedAt: now, UpdatedAt: now,
		}, true, nil
	}

	next = *old
	next.Desired, next.DeleteBranch = c.Desired, c.DeleteBranch
	if c.Desired == Active && status != Invalid {
		next.Name, next.Branch, next.BaseRef, next.Request = c.Name, c.Branch, c.BaseRef, request
		if next.BaseRef != old.BaseRef {
			next.BaseSHA = ""
		}
	}
	matters := next.Desired != old.Desired || next.DeleteBranch != old.DeleteBranch ||
		next.Name != old.Name || next.Branch != old.Branch || next.BaseRef != old.BaseRef ||
		!bytes.Equal(next.Request, old.Request)
	if c.Desired == Active {
		if status == Invalid {
			matters = matters || old.Status != Invalid || old.Detail != c.Detail
		} else {
			matters = matters || old.Status == Invalid
		}
	}
	if !matters {
		return *old, false, nil
	}
	if c.Desired == Active {
		next.SourceURL, next.Requester, next.Thread = c.SourceURL, c.Requester, c.Thread
	}
	next.Generation = old.Generation + 1
	next.Status, next.Detail = status, c.Detail
	next.UpdatedAt = now
	return next, true, nil
}
