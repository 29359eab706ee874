package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline"
	"github.com/expbot/expbot/pipeline/store"
)

// adminSync is POST /admin/sync?repo=<forge>:<path>: it queues a drift
// check of the whole repository (what `expbot sync` asks for). It answers
// only a request bearing token; it exists only when a token is configured.
func (s *Server) adminSync(token string, forges map[event.Forge]pipeline.Forge) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="expbot admin"`)
			http.Error(w, "a valid admin token is required", http.StatusUnauthorized)
			return
		}
		repo, err := pipeline.ParseRepo(r.URL.Query().Get("repo"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, ok := forges[repo.Forge]; !ok {
			http.Error(w, fmt.Sprintf("forge %s is not enabled", repo.Forge), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if err := s.store.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return pipeline.EnqueueDrift(ctx, tx, repo) }); err != nil {
			s.log.Error().Err(err).Str("forge", string(repo.Forge)).Str("repo", repo.Path).Msg("admin: queue a drift check")
			http.Error(w, "the drift check could not be queued; try again", http.StatusServiceUnavailable)
			return
		}
		s.log.Info().Str("forge", string(repo.Forge)).Str("repo", repo.Path).Msg("admin: drift check queued")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "drift check of %s:%s queued\n", repo.Forge, repo.Path)
	})
}
