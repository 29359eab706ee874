package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/forgesetup"
	"github.com/expbot/expbot/internal/forgesetup/forges"
	"github.com/expbot/expbot/internal/pulumicli"
)

// setup runs `expbot setup --config forges.yaml [--preview|--destroy]`.
func setup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("expbot setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "forges file listing repositories and groups (see deploy/forge/forges.example.yaml)")
	preview := fs.Bool("preview", false, "show what would change, change nothing")
	destroy := fs.Bool("destroy", false, "remove the hooks and labels this set-up made")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("setup: unexpected arguments: %v", fs.Args())
	case *path == "":
		return errors.New("setup: --config is required")
	case *preview && *destroy:
		return errors.New("setup: --preview and --destroy exclude each other")
	}
	file, err := forges.Load(*path)
	if err != nil {
		return err
	}
	env, err := config.LoadSetup(getenv)
	if err != nil {
		return err
	}
	secrets, err := forgesetup.SecretsFrom(file, env)
	if err != nil {
		return err
	}
	if env.PluginDir != "" { // the container image's read-only plugins, as for serve
		if err := pulumicli.LinkPlugins(env.PulumiHome, env.PluginDir); err != nil {
			return err
		}
	}
	cli, err := pulumicli.Locate(ctx, env.PulumiCLI)
	if err != nil {
		return err
	}
	// The CLI and its plugins die with setup, as with serve. Their owner is
	// the set-up's work directory, not the data directory: a serve starting
	// meanwhile sweeps its data directory's processes and must leave a
	// running set-up alone.
	owner, err := pulumicli.SelfOwner(forgesetup.WorkDir(env.DataDir, file.Stack))
	if err != nil {
		return err
	}
	mode := forgesetup.Up
	if *preview {
		mode = forgesetup.Preview
	} else if *destroy {
		mode = forgesetup.Destroy
	}
	sum, err := forgesetup.Run(ctx, forgesetup.Options{Forges: file, Env: env, CLI: pulumicli.Supervised(cli, pulumicli.Priority{}, owner), Mode: mode, Out: stderr, Secrets: secrets})
	if err != nil {
		return fmt.Errorf("setup %s: %w", mode, err)
	}
	fmt.Fprintf(stdout, "expbot setup %s: stack %s: %s\n", mode, file.Stack, sum)
	return nil
}
