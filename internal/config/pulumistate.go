package config

import (
	"errors"
	"net/url"
	"strings"
)

// PulumiStateTable is the table of the store's database that holds the
// Pulumi state when store_url is set and pulumi.backend_url is not.
const PulumiStateTable = "pulumi_state"

// pgxOnlyParams are store_url parameters that only expbot's driver (pgx)
// reads. The Pulumi CLI's postgres backend (lib/pq) would send them to the
// server as settings, which refuses them.
var pgxOnlyParams = []string{"statement_cache_capacity", "description_cache_capacity", "default_query_exec_mode", "min_read_buffer_size"}

// postgresStateURL is the Pulumi CLI's postgres:// DIY backend on the
// database of storeURL, in PulumiStateTable. Without an sslmode (in the URL
// or PGSSLMODE) it asks for "prefer", pgx's default, since lib/pq's is
// "require": both then reach the database the same way.
func postgresStateURL(storeURL, envSSLMode string) (string, error) {
	u, err := url.Parse(storeURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The parse error may quote the URL, password included.
		return "", errors.New("store_url: not a postgres:// URL, so the Pulumi state cannot default to its database (set pulumi.backend_url)")
	}
	u.Scheme = "postgres" // the CLI knows only this one
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	for _, k := range pgxOnlyParams {
		q.Del(k)
	}
	if q.Get("sslmode") == "" && envSSLMode == "" {
		q.Set("sslmode", "prefer")
	}
	q.Set("table", PulumiStateTable)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
