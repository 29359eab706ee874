package pulumicli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LinkPlugins makes home/plugins a symbolic link to dir. The CLI writes to
// its PULUMI_HOME (workspaces, logs) but looks for plugins only in
// PULUMI_HOME/plugins: so a PULUMI_HOME on a writable volume can use plugins
// installed on a read-only root file system, as in the container image.
func LinkPlugins(home, dir string) error {
	target, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("pulumi plugin dir: %w", err)
	}
	if _, err := os.Stat(target); err != nil {
		return fmt.Errorf("pulumi plugin dir: %w", err)
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("pulumi home: %w", err)
	}
	link := filepath.Join(home, "plugins")
	old, err := os.Readlink(link)
	switch {
	case err == nil && old == target:
		return nil
	case err == nil: // a link made for another plugin dir (an older image)
		if err := os.Remove(link); err != nil {
			return fmt.Errorf("pulumi home: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s exists and is not a link to %s: move it away, or unset pulumi.plugin_dir", link, target)
	}
	if err := os.Symlink(target, link); err != nil {
		return fmt.Errorf("pulumi home: link the plugins: %w", err)
	}
	return nil
}
