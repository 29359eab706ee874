// Package testnet picks loopback ports for servers that tests start in other
// processes (the bot, PostgreSQL clusters, containers).
package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
)

// A port picked with Listen(":0") and closed comes from the kernel's
// ephemeral range, which every outgoing connection also draws from (the
// bots' own to PostgreSQL, the Pulumi CLI's): one of those can take it
// before the process meant to listen there does ("address already in
// use", seen in a benchmark). Ports are therefore picked below that range,
// and never twice in one test process.
var handedOut sync.Map // port -> struct{}

// Addr picks a loopback address for a server that a process started later
// listens on.
func Addr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", Port(t))
}

// Port picks a free loopback port below the ephemeral range.
func Port(t testing.TB) int {
	t.Helper()
	lo := ephemeralLow()
	for range 1000 {
		port := lo/2 + rand.IntN(lo/2)
		if _, taken := handedOut.LoadOrStore(port, struct{}{}); taken {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // someone listens there
		}
		_ = l.Close()
		return port
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// ephemeralLow is where the kernel's ephemeral ports start (Linux tells;
// elsewhere IANA's 49152).
func ephemeralLow() int {
	var lo, hi int
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if n, _ := fmt.Sscan(string(b), &lo, &hi); n == 2 && lo > 2048 {
			return lo
		}
	}
	return 49152
}
