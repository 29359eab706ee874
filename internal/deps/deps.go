package deps

import (
	_ "github.com/google/go-github/v60/github"
	_ "github.com/pulumi/pulumi-github/sdk/v6/go/github"
	_ "github.com/pulumi/pulumi-gitlab/sdk/v8/go/gitlab"
	_ "github.com/pulumi/pulumi/sdk/v3/go/auto"
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	_ "github.com/pulumi/pulumi/sdk/v3/proto/go"
	_ "github.com/xanzy/go-gitlab"
)
