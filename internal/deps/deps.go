// Package deps pins modules that expbot is about to use so that parallel
// work does not race on go.mod. Delete it once every module is imported for
// real.
package deps

import (
	_ "github.com/google/go-github/v60/github"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/pulumi/pulumi-github/sdk/v6/go/github"
	_ "github.com/pulumi/pulumi-gitlab/sdk/v8/go/gitlab"
	_ "github.com/pulumi/pulumi/sdk/v3/go/auto"
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	_ "github.com/pulumi/pulumi/sdk/v3/proto/go"
	_ "github.com/riverqueue/river"
	_ "github.com/riverqueue/river/riverdriver/riverpgxv5"
	_ "github.com/riverqueue/river/riverdriver/riversqlite"
	_ "github.com/rs/zerolog"
	_ "github.com/xanzy/go-gitlab"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
