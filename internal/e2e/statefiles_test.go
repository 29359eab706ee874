package e2e

import (
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// readPlain reads a file of the data directory as a person looking for
// secrets would see it: the Pulumi CLI's checkpoints (*.zst, expbot asks
// for zstd) decompressed, so that a secret in them is not hidden by the
// compression.
func readPlain(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".zst") {
		return b, err
	}
	return unzstd(b)
}

func unzstd(b []byte) ([]byte, error) {
	d, err := zstd.NewReader(nil)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.DecodeAll(b, nil)
}
