package main

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/expbot/expbot/internal/demo"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("expbot demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "keep the demo's data (database, Pulumi state, work dirs) in this directory")
	logFile := fs.String("log", "", "write the bot's JSON log to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := demo.Options{Dir: *dir}
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		opts.Log = f
	}
	return demo.Run(ctx, stdout, opts)
}
