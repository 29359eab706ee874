// Command pulumi-resource-github is the stand-in github resource provider
// plugin (see internal/standin/github). TEST SUPPORT ONLY: it is built and
// installed into a test PULUMI_HOME by internal/standin/install and must
// never be installed on a production machine.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/github"
)

func main() {
	err := provider.Main(github.Name, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return github.New(github.Options{}), nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-github (stand-in): %v\n", err)
		os.Exit(1)
	}
}
