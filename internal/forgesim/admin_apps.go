package forgesim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Admin routes for GitHub Apps (see adminRoutes).
func (s *Server) appRoutes(routes map[string]adminFunc) {
	routes["POST /_sim/apps"] = s.postApp
	routes["POST /_sim/apps/{id}/installations"] = s.postInstallation
	routes["POST /_sim/installations/{id}/repositories"] = s.postInstallationRepos
	routes["DELETE /_sim/installations/{id}"] = s.deleteInstallation
	routes["PUT /_sim/apps/clock"] = s.putAppClock
}

// AppRequest registers a GitHub App by the public half of its key.
type AppRequest struct {
	Slug          string `json:"slug"`
	PublicKey     string `json:"public_key"` // PEM (PKIX or PKCS#1)
	WebhookURL    string `json:"webhook_url,omitempty"`
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

func (s *Server) postApp(r *http.Request) (int, any, error) {
	var req AppRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Slug == "" {
		return 0, nil, fmt.Errorf("slug is required: %w", state.ErrInvalid)
	}
	key, err := publicKey(req.PublicKey)
	if err != nil {
		return 0, nil, err
	}
	app := s.apps.AddApp(req.Slug, key, req.WebhookURL, req.WebhookSecret)
	return http.StatusCreated, map[string]any{"id": app.ID, "slug": app.Slug, "bot": app.BotLogin()}, nil
}

func publicKey(text string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, fmt.Errorf("public_key: no PEM block: %w", state.ErrInvalid)
	}
	if k, err := x509.ParsePKCS1PublicKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if rk, ok := k.(*rsa.PublicKey); err == nil && ok {
		return rk, nil
	}
	return nil, fmt.Errorf("public_key: not an RSA public key: %w", state.ErrInvalid)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("id %q: %w", r.PathValue("id"), state.ErrInvalid)
	}
	return id, nil
}

func (s *Server) postInstallation(r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var req struct {
		Account      string   `json:"account"`
		Repositories []string `json:"repositories"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	in, err := s.apps.Install(r.Context(), id, req.Account, req.Repositories...)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"id": in.ID, "app_id": in.AppID, "account": in.Account, "repositories": in.Repos}, nil
}

func (s *Server) postInstallationRepos(r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var req struct {
		Add    []string `json:"add"`
		Remove []string `json:"remove"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if len(req.Add) > 0 {
		if err := s.apps.AddRepos(r.Context(), id, req.Add...); err != nil {
			return 0, nil, err
		}
	}
	if len(req.Remove) > 0 {
		if err := s.apps.RemoveRepos(r.Context(), id, req.Remove...); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, map[string]any{"id": id}, nil
}

func (s *Server) deleteInstallation(r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	if err := s.apps.Uninstall(r.Context(), id); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id}, nil
}

// putAppClock sets how long new installation tokens live and how far
// GitHub's clock is from the callers' when it checks JWTs.
func (s *Server) putAppClock(r *http.Request) (int, any, error) {
	var req struct {
		TokenTTL  string `json:"token_ttl,omitempty"`
		ClockSkew string `json:"clock_skew,omitempty"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.TokenTTL != "" {
		d, err := time.ParseDuration(req.TokenTTL)
		if err != nil || d <= 0 {
			return 0, nil, fmt.Errorf("token_ttl %q: %w", req.TokenTTL, state.ErrInvalid)
		}
		s.apps.SetTokenTTL(d)
	}
	if req.ClockSkew != "" {
		d, err := time.ParseDuration(req.ClockSkew)
		if err != nil {
			return 0, nil, fmt.Errorf("clock_skew %q: %w", req.ClockSkew, state.ErrInvalid)
		}
		s.apps.SetClockSkew(d)
	}
	return http.StatusOK, s.apps.Stats(), nil
}
