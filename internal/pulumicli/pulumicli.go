// Package pulumicli finds the Pulumi CLI the same way for every part of
// expbot (server, demo, tests) and for tools/pulumi/install.sh: an explicit
// path (flag, or EXPBOT_PULUMI), then expbot's cache directory, then PATH.
package pulumicli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// Version is the CLI that tools/pulumi/install.sh builds; keep the two equal.
const Version = "v3.274.1"

// EnvPath names the environment variable that overrides the lookup.
const EnvPath = "EXPBOT_PULUMI"

// CLI is a located Pulumi CLI.
type CLI struct {
	Path    string             // the pulumi binary
	Version semver.Version     // what it reports
	Command auto.PulumiCommand // for auto.Pulumi(...)
	root    string             // Command runs <root>/bin/pulumi
}

// bin is the binary Command runs: a link to Path, or Path itself.
func (c CLI) bin() string {
	if c.root == "" {
		return c.Path
	}
	return filepath.Join(c.root, "bin", "pulumi")
}

// CacheDir is where install.sh puts what it builds: $EXPBOT_CACHE_DIR, or
// the user's cache directory plus "expbot".
func CacheDir() (string, error) {
	if d := os.Getenv("EXPBOT_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find cache directory (set EXPBOT_CACHE_DIR): %w", err)
	}
	return filepath.Join(d, "expbot"), nil
}

// CachedPath is where install.sh puts the CLI of Version.
func CachedPath() (string, error) {
	d, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "pulumi-"+Version, "bin", "pulumi"), nil
}

// Locate finds the CLI: explicit (a flag) or $EXPBOT_PULUMI when set, else
// the cached build, else `pulumi` on PATH. Any CLI at least as new as the
// Automation API's minimum is accepted, so users may bring the official one.
func Locate(ctx context.Context, explicit string) (CLI, error) {
	if explicit == "" {
		explicit = os.Getenv(EnvPath)
	}
	if explicit != "" {
		return at(ctx, explicit)
	}
	var tried []string
	if cached, err := CachedPath(); err == nil {
		if _, statErr := os.Stat(cached); statErr == nil {
			return at(ctx, cached)
		}
		tried = append(tried, cached)
	}
	onPath, err := exec.LookPath("pulumi")
	if err != nil {
		tried = append(tried, "pulumi on PATH")
		return CLI{}, fmt.Errorf("no pulumi CLI found (looked at %s): run tools/pulumi/install.sh or set %s",
			strings.Join(tried, ", "), EnvPath)
	}
	return at(ctx, onPath)
}

// at validates the binary at path. NewPulumiCommand wants the binary at
// <root>/bin/pulumi; any other layout gets a private root with a link.
func at(ctx context.Context, path string) (CLI, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return CLI{}, fmt.Errorf("pulumi CLI path %q: %w", path, err)
	}
	if info, err := os.Stat(abs); err != nil {
		return CLI{}, fmt.Errorf("pulumi CLI: %w", err)
	} else if info.IsDir() {
		return CLI{}, fmt.Errorf("pulumi CLI %s is a directory, want the binary", abs)
	}
	root, err := rootFor(abs)
	if err != nil {
		return CLI{}, err
	}
	if err := ctx.Err(); err != nil {
		return CLI{}, err
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root})
	if err != nil {
		return CLI{}, fmt.Errorf("pulumi CLI %s: %w", abs, err)
	}
	return CLI{Path: abs, Version: cmd.Version(), Command: cmd, root: root}, nil
}

func rootFor(abs string) (string, error) {
	if filepath.Base(abs) == "pulumi" && filepath.Base(filepath.Dir(abs)) == "bin" {
		return filepath.Dir(filepath.Dir(abs)), nil
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	// One stable link per binary, so repeated lookups reuse it.
	sum := sha256.Sum256([]byte(abs))
	root := filepath.Join(cache, "pulumi-links", hex.EncodeToString(sum[:8]))
	link := filepath.Join(root, "bin", "pulumi")
	if target, err := os.Readlink(link); err == nil && target == abs {
		return root, nil
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return "", fmt.Errorf("make a root for pulumi CLI %s: %w", abs, err)
	}
	tmp := fmt.Sprintf("%s.%d", link, os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(abs, tmp); err != nil {
		return "", fmt.Errorf("link pulumi CLI %s: %w", abs, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		return "", fmt.Errorf("link pulumi CLI %s: %w", abs, err)
	}
	return root, nil
}
