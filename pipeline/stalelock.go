package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// lockOwner is what the CLI writes into a DIY backend's lock file.
type lockOwner struct {
	Pid      int    `json:"pid"`
	Hostname string `json:"hostname"`
}

// removeStaleLocks deletes a file backend's locks on stack whose owner is
// provably gone: written on this host by a process that no longer runs.
// A crash mid-update leaves such a lock, and every later update would
// otherwise fail as "currently locked". Locks of live processes, of other
// hosts, and of other backends are left alone.
func removeStaleLocks(backendURL, stack string) (int, error) {
	root, ok := strings.CutPrefix(backendURL, "file://")
	if !ok {
		return 0, nil
	}
	host, err := os.Hostname()
	if err != nil {
		return 0, fmt.Errorf("hostname: %w", err)
	}
	removed := 0
	locks := filepath.Join(root, ".pulumi", "locks")
	err = filepath.WalkDir(locks, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || filepath.Base(filepath.Dir(path)) != stack {
			return nil
		}
		if lock, ok := strings.CutSuffix(path, ".json"+attrsSuffix); ok {
			return removeOrphanAttrs(lock+".json", path, d)
		}
		if filepath.Ext(path) != ".json" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var owner lockOwner
		if json.Unmarshal(b, &owner) != nil || owner.Hostname != host || owner.Pid <= 0 || processAlive(owner.Pid) {
			return nil
		}
		// The sidecar first: a lock whose attributes are gone is still a
		// lock, but a sidecar whose lock is gone is litter.
		if err := os.Remove(path + attrsSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		removed++
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("look for stale locks of %s: %w", stack, err)
	}
	return removed, nil
}

// attrsSuffix names the sidecar in which the file backend (gocloud's
// fileblob) keeps each blob's attributes: a lock is <id>.json plus
// <id>.json.attrs.
const attrsSuffix = ".attrs"

// orphanAge is how old a sidecar without its lock must be before it is
// litter: the file backend writes the sidecar just before the lock itself.
const orphanAge = time.Minute

// removeOrphanAttrs removes the sidecar at path when its lock is gone: left
// by a removal that predates sidecar handling, or interrupted between the
// two files.
func removeOrphanAttrs(lock, path string, d fs.DirEntry) error {
	if _, err := os.Stat(lock); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	info, err := d.Info()
	if err != nil || time.Since(info.ModTime()) < orphanAge {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// processAlive tells whether pid runs. A process killed with its parent is
// a zombie until init reaps it, and some inits take their time: where
// /proc tells, a zombie counts as gone.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc here, or it raced away: trust kill
	}
	// "pid (comm) state ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}
