//go:build !linux

package e2e

import "time"

func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }
