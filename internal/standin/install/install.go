// Package install builds the stand-in provider plugins and installs them
// into a (test) PULUMI_HOME, where the Pulumi engine finds them exactly as it
// would find the official plugins.
//
// TEST SUPPORT ONLY: never call this on a production PULUMI_HOME; production
// installs the official plugins with `pulumi plugin install`.
package install

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/expbot/expbot/internal/standin/github"
	"github.com/expbot/expbot/internal/standin/gitlab"
)

const modulePath = "github.com/expbot/expbot"

// Plugin is one stand-in plugin binary.
type Plugin struct {
	Name, Version string
}

// Plugins lists the stand-ins Install installs.
func Plugins() []Plugin {
	return []Plugin{
		{Name: github.Name, Version: github.Version},
		{Name: gitlab.Name, Version: gitlab.Version},
	}
}

// Binary is the plugin's executable name.
func (p Plugin) Binary() string { return "pulumi-resource-" + p.Name }

// Dir is the plugin directory relative to $PULUMI_HOME, e.g.
// "plugins/resource-github-v6.12.1": the engine matches the version exactly.
func (p Plugin) Dir() string {
	return filepath.Join("plugins", "resource-"+p.Name+"-v"+p.Version)
}

// built memoises the build for the whole process: every test may call
// Install with its own PULUMI_HOME, but the binaries only need building once.
// This is deliberate process-wide state, guarded by its mutex.
var built struct {
	sync.Mutex
	dir string
}

// Install builds both stand-in plugins (once per process; `go build` itself
// skips up-to-date binaries across processes) and installs them into
// pulumiHome as $PULUMI_HOME/plugins/resource-<name>-v<version>/pulumi-resource-<name>.
func Install(ctx context.Context, pulumiHome string) error {
	dir, err := buildOnce(ctx)
	if err != nil {
		return err
	}
	for _, p := range Plugins() {
		if err := place(filepath.Join(dir, p.Binary()), filepath.Join(pulumiHome, p.Dir()), p.Binary()); err != nil {
			return fmt.Errorf("install stand-in %s plugin: %w", p.Name, err)
		}
	}
	return nil
}

func buildOnce(ctx context.Context) (string, error) {
	built.Lock()
	defer built.Unlock()
	if built.dir != "" {
		return built.dir, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	dir, err := buildDir(root)
	if err != nil {
		return "", err
	}
	if err := build(ctx, root, dir); err != nil {
		return "", err
	}
	built.dir = dir
	return dir, nil
}

// buildDir is a stable per-checkout cache directory, so that `go build -o`
// finds its previous output and skips relinking.
func buildDir(root string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(cache, "expbot", "standin-plugins", hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create plugin build dir: %w", err)
	}
	return dir, nil
}

// build runs one `go build` for both commands, holding an exclusive lock so
// that parallel test processes do not write the same binaries at once.
func build(ctx context.Context, root, dir string) error {
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open build lock: %w", err)
	}
	defer func() { _ = lock.Close() }()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock plugin build dir: %w", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()

	goBin, err := goTool()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, p := range Plugins() {
		args = append(args, "./cmd/"+p.Binary())
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build stand-in plugins: %w\n%s", err, out.String())
	}
	return nil
}

func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // fallback when go is not on PATH
	if _, err := os.Stat(p); err != nil {
		return "", errors.New("the go tool is needed to build the stand-in plugins but was not found")
	}
	return p, nil
}

// moduleRoot finds the checkout: from this source file's location when the
// binary was built from source (tests), else via `go env GOMOD`.
func moduleRoot(ctx context.Context) (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
		if isModuleRoot(root) {
			return root, nil
		}
	}
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	if !isModuleRoot(root) {
		return "", fmt.Errorf("cannot locate the %s module (run from inside the checkout)", modulePath)
	}
	return root, nil
}

func isModuleRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first) == "module "+modulePath
}

// place installs src as dir/name the way `pulumi plugin install` leaves a
// plugin: the engine ignores a plugin directory while "<dir>.partial"
// exists, so the marker brackets the copy and is removed last.
func place(src, dir, name string) error {
	dst := filepath.Join(dir, name)
	if same(src, dst) {
		return nil
	}
	partial := dir + ".partial"
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(partial, nil, 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Unlink first: the old binary may be running (a write would fail with
	// "text file busy"), and a hard link must not alias a file we overwrite.
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Link(src, dst); err != nil {
		if err := copyFile(src, dst); err != nil {
			return err
		}
	}
	return os.Remove(partial)
}

// same reports whether dst is already a hard link of src (the usual case
// for repeated installs into one PULUMI_HOME).
func same(src, dst string) bool {
	a, err := os.Stat(src)
	if err != nil {
		return false
	}
	b, err := os.Stat(dst)
	return err == nil && os.SameFile(a, b)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
