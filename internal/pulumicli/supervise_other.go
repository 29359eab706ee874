//go:build !linux

package pulumicli

import "github.com/pulumi/pulumi/sdk/v3/go/auto"

// Supervised runs cli as the Automation API does: without a parent-death
// signal and a child subreaper, a guard could not do its job here.
func Supervised(cli CLI, p Priority, _ Owner) auto.PulumiCommand { return Niced(cli.Command, p) }

// GuardMain has nothing to do where there is no guard.
func GuardMain() {}

// SweepLeftovers cannot tell processes' owners apart without /proc.
func SweepLeftovers(Owner) (int, error) { return 0, nil }

func startTime(int) (uint64, error) { return 0, nil }
