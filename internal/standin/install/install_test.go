package install

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestInstallPlacesPluginsWhereTheEngineLooks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	home := t.TempDir()
	if err := Install(ctx, home); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Install(ctx, home); err != nil {
		t.Fatalf("second install: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("repeated install took %v, want it cheap", d)
	}

	t.Setenv("PULUMI_HOME", home)
	for _, p := range Plugins() {
		bin := filepath.Join(home, p.Dir(), p.Binary())
		st, err := os.Stat(bin)
		if err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s: %v, mode %v; want an executable", bin, err, st)
		}
		if _, err := os.Stat(filepath.Join(home, p.Dir()) + ".partial"); !os.IsNotExist(err) {
			t.Errorf("%s: a .partial marker remains (%v)", p.Name, err)
		}
		v := semver.MustParse(p.Version)
		spec := workspace.PluginDescriptor{Name: p.Name, Kind: apitype.ResourcePlugin, Version: &v}
		if !workspace.HasPlugin(spec) {
			t.Errorf("the engine's lookup does not find %s %s in %s", p.Name, p.Version, home)
		}
	}
}

func TestInstalledBinariesServeTheProviderProtocol(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	home := t.TempDir()
	if err := Install(ctx, home); err != nil {
		t.Fatal(err)
	}
	for _, p := range Plugins() {
		t.Run(p.Name, func(t *testing.T) {
			// Without an engine address the plugin starts in attach mode and
			// prints its port, like it does for the engine.
			cmd := exec.CommandContext(ctx, filepath.Join(home, p.Dir(), p.Binary()))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cmd.Process.Signal(os.Interrupt)
				_ = cmd.Wait()
			}()
			port, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("read port: %v", err)
			}
			conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			info, err := pulumirpc.NewResourceProviderClient(conn).GetPluginInfo(ctx, &emptypb.Empty{})
			if err != nil {
				t.Fatal(err)
			}
			if info.GetVersion() != p.Version {
				t.Errorf("version = %q, want %q", info.GetVersion(), p.Version)
			}
		})
	}
}
