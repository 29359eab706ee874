// Command pulumi-resource-gitlab is the stand-in gitlab resource provider
// plugin (see internal/standin/gitlab). TEST SUPPORT ONLY: it is built and
// installed into a test PULUMI_HOME by internal/standin/install and must
// never be installed on a production machine.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/gitlab"
)

func main() {
	err := provider.Main(gitlab.Name, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return gitlab.New(gitlab.Options{}), nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-gitlab (stand-in): %v\n", err)
		os.Exit(1)
	}
}
