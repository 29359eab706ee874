//go:build !unix

package sqlite

import "os"

// lockFile only opens the file where flock is not available: one process
// per database stays the operator's job there.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
