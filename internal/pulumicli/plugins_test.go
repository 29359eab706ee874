package pulumicli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLinkPlugins(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "ro", "plugins")
	other := filepath.Join(dir, "old", "plugins")
	for _, d := range []string{plugins, other} {
		if err := os.MkdirAll(filepath.Join(d, "resource-github-v6.12.1"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(dir, "data", "pulumi-home")
	linked := func() string {
		t.Helper()
		got, err := os.Readlink(filepath.Join(home, "plugins"))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	// A fresh volume: the home is made and links to the plugins.
	if err := LinkPlugins(home, plugins); err != nil {
		t.Fatal(err)
	}
	if got := linked(); got != plugins {
		t.Fatalf("plugins link to %q, want %q", got, plugins)
	}
	if _, err := os.Stat(filepath.Join(home, "plugins", "resource-github-v6.12.1")); err != nil {
		t.Fatalf("the plugins are not reachable through the link: %v", err)
	}
	// A restart: nothing changes.
	if err := LinkPlugins(home, plugins); err != nil || linked() != plugins {
		t.Fatalf("second call: %v, link %q", err, linked())
	}
	// A new image with the plugins elsewhere: the link follows.
	if err := LinkPlugins(home, other); err != nil || linked() != other {
		t.Fatalf("moved plugins: %v, link %q", err, linked())
	}

	// A home with plugins of its own is left alone.
	own := filepath.Join(dir, "own-home")
	if err := os.MkdirAll(filepath.Join(own, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := LinkPlugins(own, plugins); err == nil || !strings.Contains(err.Error(), "is not a link") {
		t.Fatalf("home with a plugins directory: err = %v, want a refusal", err)
	}
	// A plugin dir that is not there is an error, not a dangling link.
	if err := LinkPlugins(filepath.Join(dir, "h2"), filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing plugin dir accepted")
	}
}
