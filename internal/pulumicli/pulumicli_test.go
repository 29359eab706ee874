package pulumicli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCLI writes an executable that answers `pulumi version` like the CLI;
// the lookup only ever runs that subcommand.
func fakeCLI(t *testing.T, path, version string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n[ \"$1\" = version ] && echo " + version + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLocate(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string) (explicit string)
		wantPath func(dir string) string
		wantErr  string
	}{
		{
			name: "explicit flag wins over cache",
			setup: func(t *testing.T, dir string) string {
				fakeCLI(t, filepath.Join(dir, "cache", "pulumi-"+Version, "bin", "pulumi"), Version)
				return fakeCLI(t, filepath.Join(dir, "elsewhere", "pulumi"), "v3.300.0")
			},
			wantPath: func(dir string) string { return filepath.Join(dir, "elsewhere", "pulumi") },
		},
		{
			name: "environment override",
			setup: func(t *testing.T, dir string) string {
				t.Setenv(EnvPath, fakeCLI(t, filepath.Join(dir, "env", "bin", "pulumi"), Version))
				return ""
			},
			wantPath: func(dir string) string { return filepath.Join(dir, "env", "bin", "pulumi") },
		},
		{
			name: "cache before PATH",
			setup: func(t *testing.T, dir string) string {
				fakeCLI(t, filepath.Join(dir, "path", "pulumi"), Version)
				fakeCLI(t, filepath.Join(dir, "cache", "pulumi-"+Version, "bin", "pulumi"), Version)
				return ""
			},
			wantPath: func(dir string) string { return filepath.Join(dir, "cache", "pulumi-"+Version, "bin", "pulumi") },
		},
		{
			name: "PATH when nothing is cached",
			setup: func(t *testing.T, dir string) string {
				fakeCLI(t, filepath.Join(dir, "path", "pulumi"), "v3.280.0")
				return ""
			},
			wantPath: func(dir string) string { return filepath.Join(dir, "path", "pulumi") },
		},
		{
			name: "too old a CLI is refused",
			setup: func(t *testing.T, dir string) string {
				return fakeCLI(t, filepath.Join(dir, "old", "pulumi"), "v3.1.0")
			},
			wantErr: "Minimum version",
		},
		{
			name:    "nothing anywhere says how to install",
			setup:   func(t *testing.T, dir string) string { return "" },
			wantErr: "tools/pulumi/install.sh",
		},
		{
			name:    "explicit path that does not exist",
			setup:   func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") },
			wantErr: "no such file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("EXPBOT_CACHE_DIR", filepath.Join(dir, "cache"))
			t.Setenv("PATH", filepath.Join(dir, "path"))
			t.Setenv(EnvPath, "")
			t.Setenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", "")
			explicit := tt.setup(t, dir)
			cli, err := Locate(context.Background(), explicit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Locate() error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Locate(): %v", err)
			}
			if want := tt.wantPath(dir); cli.Path != want {
				t.Errorf("Path = %s, want %s", cli.Path, want)
			}
			if cli.Command == nil || cli.Command.Version().String() != cli.Version.String() {
				t.Errorf("Command version %v does not match %v", cli.Command, cli.Version)
			}
		})
	}
}

// A binary outside a bin/ folder gets one stable link root, not a new one per
// lookup.
func TestLocateLinkRootIsStable(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EXPBOT_CACHE_DIR", filepath.Join(dir, "cache"))
	bin := fakeCLI(t, filepath.Join(dir, "x", "pulumi"), Version)
	for range 2 {
		if _, err := Locate(context.Background(), bin); err != nil {
			t.Fatal(err)
		}
	}
	links, err := os.ReadDir(filepath.Join(dir, "cache", "pulumi-links"))
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 {
		t.Fatalf("got %d link roots, want 1", len(links))
	}
}
