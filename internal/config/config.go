// Package config loads expbot's settings from, in rising precedence, built-in
// defaults, a YAML file, EXPBOT_* environment variables and command-line
// flags. Secrets (API tokens, webhook secrets, the Pulumi passphrase) are
// accepted only from the environment or from files, never inline in YAML or
// on the command line, and they print as [redacted].
package config

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/expbot/expbot/internal/allow"
	"github.com/expbot/expbot/internal/spec"
)

// AccessRank ranks the names of access levels on both forges, 1 (read) to
// 5 (admin): GitHub's words and GitLab's roles that mean the same share one.
func AccessRank(name string) (int, bool) {
	switch strings.ToLower(name) {
	case "read", "guest":
		return 1, true
	case "triage", "reporter":
		return 2, true
	case "write", "developer":
		return 3, true
	case "maintain", "maintainer":
		return 4, true
	case "admin", "owner":
		return 5, true
	}
	return 0, false
}

// Secret is a string that refuses to be printed.
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// MarshalText keeps secrets out of JSON, YAML and structured logs.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Reveal returns the secret's value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// Secrets returns the value of every Secret field of c, at any depth, so
// that a secret added to the configuration is scrubbed from output without
// further wiring.
func (c Config) Secrets() []string { return SecretsOf(c) }

// SecretsOf returns the value of every set Secret in v (a configuration
// struct, or anything holding Secrets), at any depth.
func SecretsOf(v any) []string {
	var out []string
	secretType := reflect.TypeFor[Secret]()
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch {
		case v.Type() == secretType:
			if v.String() != "" { // an unset one, e.g. the token when a GitHub App authenticates
				out = append(out, v.String())
			}
		case v.Kind() == reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case v.Kind() == reflect.Slice || v.Kind() == reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case v.Kind() == reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value())
			}
		case v.Kind() == reflect.Pointer && !v.IsNil():
			walk(v.Elem())
		}
	}
	walk(reflect.ValueOf(v))
	return out
}

// Config is everything `expbot serve` needs.
type Config struct {
	Listen  string `yaml:"listen"`
	DataDir string `yaml:"data_dir"`
	// StoreURL chooses the store: empty keeps the embedded SQLite database
	// in DataDir; postgres://... shares a PostgreSQL database.
	StoreURL       string        `yaml:"store_url"`
	LogLevel       string        `yaml:"log_level"`
	BodyLimit      int64         `yaml:"body_limit"`
	BodyTimeout    time.Duration `yaml:"body_timeout"`           // headers and body must arrive within it
	BodyBudget     int64         `yaml:"unverified_body_budget"` // bytes of bodies held before their signature is checked
	Label          string        `yaml:"label"`
	BranchTemplate string        `yaml:"branch_template"`
	PullTemplate   string        `yaml:"pull_branch_template"`
	CommandAccess  string        `yaml:"command_access"` // read, triage, write, maintain, admin (GitLab: guest ... owner)
	Allow          []string      `yaml:"allow"`          // host/owner/repo globs, "!" excludes; empty = all
	TagPattern     string        `yaml:"tag_pattern"`    // tags that start a sweep (glob)
	SweepFile      string        `yaml:"sweep_file"`     // read at the tagged commit
	SweepLimit     int           `yaml:"sweep_limit"`    // most combinations one sweep may make
	VariantFile    string        `yaml:"variant_file"`
	Retire         string        `yaml:"retire"` // keep | delete
	Workers        int           `yaml:"workers"`
	ShutdownGrace  time.Duration `yaml:"shutdown_grace"`
	// DeliveryRetention is how long a delivery id is remembered: a
	// redelivery after that would act again. Forges redeliver for days.
	DeliveryRetention time.Duration `yaml:"delivery_retention"`
	// DriftInterval is how often each repository's stack is checked for
	// drift (docs/drift.md); 0 turns the scheduled checks off.
	DriftInterval time.Duration `yaml:"drift_interval"`
	// AdminTokenFile holds the bearer token of the admin API (POST
	// /admin/sync); without a token the admin API is off.
	AdminTokenFile string `yaml:"admin_token_file"`
	AdminToken     Secret `yaml:"-"`
	Pulumi         Pulumi `yaml:"pulumi"`
	GitHub         GitHub `yaml:"github"`
	GitLab         GitLab `yaml:"gitlab"`
}

// MinAdminTokenLen keeps guessable admin tokens out.
const MinAdminTokenLen = 16

// MinDeliveryRetention: GitHub lets people redeliver a webhook for three
// days.
const MinDeliveryRetention = 72 * time.Hour

// DefaultHistoryKeep: each update adds to its stack's history a full copy
// of the state, and a stack holds every experiment of its repository.
const DefaultHistoryKeep = 10

// Pulumi says how updates run.
type Pulumi struct {
	CLI            string `yaml:"cli"`          // path to the pulumi binary; empty = lookup
	Home           string `yaml:"home"`         // PULUMI_HOME; empty = the CLI's default
	PluginDir      string `yaml:"plugin_dir"`   // read-only plugins, linked as Home/plugins (the container image)
	BackendURL     string `yaml:"backend_url"`  // empty = PulumiStateTable in store_url's database, else file://<data_dir>/pulumi/state
	Nice           int    `yaml:"nice"`         // CPU priority steps below the bot's; 0 = same
	Idle           bool   `yaml:"idle"`         // only CPU time nothing else wants (Linux SCHED_IDLE)
	HistoryKeep    int    `yaml:"history_keep"` // updates of each stack whose history is kept (file://, postgres://); 0 = all
	PassphraseFile string `yaml:"passphrase_file"`
	Passphrase     Secret `yaml:"-"`
}

// GitHub is one GitHub (github.com or Enterprise).
type GitHub struct {
	Enabled            bool     `yaml:"enabled"`
	APIURL             string   `yaml:"api_url"` // empty = github.com; Enterprise: https://ghe.example.com/
	WebURL             string   `yaml:"web_url"`
	WriteDelayMs       int      `yaml:"write_delay_ms"`
	TokenFile          string   `yaml:"token_file"`
	WebhookSecretsFile string   `yaml:"webhook_secrets_file"` // one secret per line (rotation)
	Token              Secret   `yaml:"-"`
	WebhookSecrets     []Secret `yaml:"-"`
	// GitHub App authentication, instead of Token: the app's id, its
	// private key (PEM) and, optionally, the one installation to use
	// (otherwise each repository's installation is looked up).
	AppID             int64  `yaml:"app_id"`
	AppPrivateKeyFile string `yaml:"app_private_key_file"`
	AppInstallationID int64  `yaml:"app_installation_id"`
	AppPrivateKey     Secret `yaml:"-"`
}

// AppAuth reports whether any GitHub App setting is made.
func (g GitHub) AppAuth() bool {
	return g.AppID != 0 || g.AppPrivateKey != "" || g.AppInstallationID != 0
}

// GitLab is one GitLab instance.
type GitLab struct {
	Enabled            bool     `yaml:"enabled"`
	APIURL             string   `yaml:"api_url"` // https://gitlab.com/api/v4/
	WebURL             string   `yaml:"web_url"`
	TokenFile          string   `yaml:"token_file"`
	WebhookTokensFile  string   `yaml:"webhook_tokens_file"`  // one per line (rotation)
	SigningSecretsFile string   `yaml:"signing_secrets_file"` // whsec_... one per line
	Token              Secret   `yaml:"-"`
	WebhookTokens      []Secret `yaml:"-"`
	SigningSecrets     []Secret `yaml:"-"`
}

// The defaults, in this one place: other packages take theirs from here
// rather than repeating the values.
const (
	DefaultLabel               = "new-experiment"
	DefaultBranchTemplate      = "exp/{number}-{name}"
	DefaultPullBranchTemplate  = "exp/mr-{number}-{name}" // "mr-": apart from issue branches, whose numbers may coincide
	DefaultSweepBranchTemplate = "exp/{tag}/{name}"       // the sweep file's branch: when it has none
	DefaultTagPattern          = "sweep-*"
	DefaultSweepFile           = ".expbot/sweep.yaml"
	DefaultSweepLimit          = 64
	DefaultVariantFile         = "experiment.yaml"
	DefaultRetire              = "keep"
	DefaultCommandAccess       = "write"
	DefaultAuthorName          = "expbot" // author of the variant file's commits
	DefaultAuthorEmail         = "expbot@users.noreply.invalid"
	DefaultDriftInterval       = 6 * time.Hour
)

// Defaults are what an empty configuration means.
func Defaults() Config {
	return Config{
		Listen:            "127.0.0.1:8080",
		DataDir:           "./expbot-data",
		LogLevel:          "info",
		BodyLimit:         25 << 20,
		BodyTimeout:       20 * time.Second,
		BodyBudget:        64 << 20,
		Label:             DefaultLabel,
		BranchTemplate:    DefaultBranchTemplate,
		PullTemplate:      DefaultPullBranchTemplate,
		CommandAccess:     DefaultCommandAccess,
		TagPattern:        DefaultTagPattern,
		SweepFile:         DefaultSweepFile,
		SweepLimit:        DefaultSweepLimit,
		VariantFile:       DefaultVariantFile,
		Retire:            DefaultRetire,
		Workers:           4,
		ShutdownGrace:     30 * time.Second,
		DeliveryRetention: 30 * 24 * time.Hour,
		DriftInterval:     DefaultDriftInterval,
		GitLab:            GitLab{APIURL: "https://gitlab.com/api/v4/"},
		Pulumi:            Pulumi{Nice: 10, HistoryKeep: DefaultHistoryKeep},
	}
}

// Load reads the configuration for args (the flags after "serve"), with env
// looked up through getenv.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := Defaults()
	fs := flag.NewFlagSet("expbot serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("EXPBOT_CONFIG"), "YAML configuration file (env EXPBOT_CONFIG)")
	flagVals := map[string]*string{}
	for _, o := range options {
		if o.flag != "" {
			flagVals[o.flag] = fs.String(o.flag, "", o.help+" (env "+o.env+")")
		}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *configPath != "" {
		if err := loadYAML(&c, *configPath); err != nil {
			return Config{}, err
		}
	}
	for _, o := range options {
		if v := getenv(o.env); v != "" {
			if err := o.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("%s: %w", o.env, err)
			}
		}
	}
	var flagErr error
	fs.Visit(func(f *flag.Flag) {
		for _, o := range options {
			if o.flag == f.Name && flagErr == nil {
				if err := o.set(&c, *flagVals[f.Name]); err != nil {
					flagErr = fmt.Errorf("--%s: %w", f.Name, err)
				}
			}
		}
	})
	if flagErr != nil {
		return Config{}, flagErr
	}
	if err := c.loadSecrets(getenv); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

func loadYAML(c *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// loadSecrets fills secrets from the environment, or from the files that the
// configuration or the environment name.
func (c *Config) loadSecrets(getenv func(string) string) error {
	type src struct {
		env, fileEnv string
		file         *string
		one          *Secret
		many         *[]Secret
		whole        bool // the value is one multi-line text (a PEM key), not a list
	}
	for _, s := range []src{
		{"EXPBOT_PULUMI_PASSPHRASE", "EXPBOT_PULUMI_PASSPHRASE_FILE", &c.Pulumi.PassphraseFile, &c.Pulumi.Passphrase, nil, false},
		{"EXPBOT_GITHUB_TOKEN", "EXPBOT_GITHUB_TOKEN_FILE", &c.GitHub.TokenFile, &c.GitHub.Token, nil, false},
		{"EXPBOT_GITHUB_WEBHOOK_SECRETS", "EXPBOT_GITHUB_WEBHOOK_SECRETS_FILE", &c.GitHub.WebhookSecretsFile, nil, &c.GitHub.WebhookSecrets, false},
		{"EXPBOT_GITHUB_APP_PRIVATE_KEY", "EXPBOT_GITHUB_APP_PRIVATE_KEY_FILE", &c.GitHub.AppPrivateKeyFile, &c.GitHub.AppPrivateKey, nil, true},
		{"EXPBOT_GITLAB_TOKEN", "EXPBOT_GITLAB_TOKEN_FILE", &c.GitLab.TokenFile, &c.GitLab.Token, nil, false},
		{"EXPBOT_GITLAB_WEBHOOK_TOKENS", "EXPBOT_GITLAB_WEBHOOK_TOKENS_FILE", &c.GitLab.WebhookTokensFile, nil, &c.GitLab.WebhookTokens, false},
		{"EXPBOT_GITLAB_SIGNING_SECRETS", "EXPBOT_GITLAB_SIGNING_SECRETS_FILE", &c.GitLab.SigningSecretsFile, nil, &c.GitLab.SigningSecrets, false},
		{"EXPBOT_ADMIN_TOKEN", "EXPBOT_ADMIN_TOKEN_FILE", &c.AdminTokenFile, &c.AdminToken, nil, false},
	} {
		if f := getenv(s.fileEnv); f != "" {
			*s.file = f
		}
		split := splitList
		if s.whole {
			split = wholeValue
		}
		var vals []string
		if v := getenv(s.env); v != "" {
			vals = split(v)
		} else if *s.file != "" {
			b, err := os.ReadFile(*s.file)
			if err != nil {
				return fmt.Errorf("read secret file for %s: %w", s.env, err)
			}
			vals = split(string(b))
		}
		if len(vals) == 0 {
			continue
		}
		if s.one != nil {
			*s.one = Secret(vals[0])
			continue
		}
		for _, v := range vals {
			*s.many = append(*s.many, Secret(v))
		}
	}
	return nil
}

// splitList splits on newlines and commas and drops blanks, so a secret file
// may hold one value per line and an env var a comma-separated list.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// wholeValue keeps a multi-line secret whole, trimmed; none when blank.
func wholeValue(s string) []string {
	if s = strings.TrimSpace(s); s == "" {
		return nil
	}
	return []string{s}
}

// Validate fails closed: an enabled forge without its token or webhook
// secret stops start-up with a message that says what to set.
func (c *Config) Validate() error {
	var errs []error
	if !c.GitHub.Enabled && !c.GitLab.Enabled {
		errs = append(errs, errors.New("no forge is enabled: set github.enabled or gitlab.enabled (EXPBOT_GITHUB_ENABLED=true / EXPBOT_GITLAB_ENABLED=true)"))
	}
	if c.GitHub.Enabled {
		errs = append(errs, c.GitHub.validateAuth()...)
		if len(c.GitHub.WebhookSecrets) == 0 {
			errs = append(errs, errors.New("github is enabled but has no webhook secret: set EXPBOT_GITHUB_WEBHOOK_SECRETS or github.webhook_secrets_file"))
		}
	}
	if c.GitLab.Enabled {
		if c.GitLab.Token == "" {
			errs = append(errs, errors.New("gitlab is enabled but has no API token: set EXPBOT_GITLAB_TOKEN or gitlab.token_file"))
		}
		if len(c.GitLab.WebhookTokens) == 0 && len(c.GitLab.SigningSecrets) == 0 {
			errs = append(errs, errors.New("gitlab is enabled but has no webhook token or signing secret: set EXPBOT_GITLAB_WEBHOOK_TOKENS or gitlab.webhook_tokens_file (or signing secrets)"))
		}
		if !strings.HasSuffix(strings.TrimSuffix(c.GitLab.APIURL, "/"), "/api/v4") {
			errs = append(errs, fmt.Errorf("gitlab.api_url %q must end in /api/v4/", c.GitLab.APIURL))
		}
	}
	if c.Pulumi.Passphrase == "" {
		errs = append(errs, errors.New("no Pulumi passphrase (it encrypts the forge tokens in the state): set EXPBOT_PULUMI_PASSPHRASE or pulumi.passphrase_file"))
	}
	if c.Retire != "keep" && c.Retire != "delete" {
		errs = append(errs, fmt.Errorf("retire %q must be keep or delete", c.Retire))
	}
	if err := spec.ValidateBranchTemplate(c.BranchTemplate); err != nil {
		errs = append(errs, fmt.Errorf("branch_template: %w", err))
	}
	if err := spec.ValidateBranchTemplate(c.PullTemplate); err != nil {
		errs = append(errs, fmt.Errorf("pull_branch_template: %w", err))
	}
	if _, ok := AccessRank(c.CommandAccess); !ok {
		errs = append(errs, fmt.Errorf("command_access %q must be one of read, triage, write, maintain, admin (or guest, reporter, developer, maintainer, owner)", c.CommandAccess))
	}
	if _, err := path.Match(c.TagPattern, ""); err != nil || c.TagPattern == "" {
		errs = append(errs, fmt.Errorf("tag_pattern %q is not a valid glob", c.TagPattern))
	}
	if c.SweepFile == "" || c.SweepLimit <= 0 {
		errs = append(errs, errors.New("sweep_file must be set and sweep_limit positive"))
	}
	if _, err := allow.Parse(c.Allow); err != nil {
		errs = append(errs, fmt.Errorf("allow: %w", err))
	}
	if c.BodyLimit <= 0 {
		errs = append(errs, errors.New("body_limit must be positive"))
	}
	if c.BodyBudget < 2*c.BodyLimit {
		errs = append(errs, errors.New("unverified_body_budget must be at least twice body_limit: a body of the largest size sent without a length needs that much while it is read"))
	}
	if c.BodyTimeout < time.Second {
		errs = append(errs, errors.New("body_timeout must be at least 1s"))
	}
	if c.Workers <= 0 {
		errs = append(errs, errors.New("workers must be positive"))
	}
	if c.DeliveryRetention < MinDeliveryRetention {
		errs = append(errs, fmt.Errorf("delivery_retention must be at least %v: forges redeliver for days, and a forgotten delivery would act twice", MinDeliveryRetention))
	}
	if c.DriftInterval < 0 {
		errs = append(errs, errors.New("drift_interval must be 0 (off) or positive"))
	}
	if c.AdminToken != "" && len(c.AdminToken) < MinAdminTokenLen {
		errs = append(errs, fmt.Errorf("the admin token must be at least %d characters long", MinAdminTokenLen))
	}
	if c.Pulumi.HistoryKeep < 0 {
		errs = append(errs, errors.New("pulumi.history_keep must be 0 (keep all) or positive"))
	}
	if c.Pulumi.Nice < 0 || c.Pulumi.Nice > 19 {
		errs = append(errs, errors.New("pulumi.nice must be between 0 and 19"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir must be set"))
	}
	if c.StoreURL != "" && !strings.HasPrefix(c.StoreURL, "postgres://") && !strings.HasPrefix(c.StoreURL, "postgresql://") {
		errs = append(errs, errors.New("store_url must be empty (SQLite in data_dir) or a postgres:// URL"))
	}
	if c.Pulumi.PluginDir != "" && c.Pulumi.Home == "" {
		errs = append(errs, errors.New("pulumi.plugin_dir needs pulumi.home: the writable PULUMI_HOME whose plugins link to it"))
	}
	return errors.Join(errs...)
}

// validateAuth wants exactly one of a token and a complete GitHub App.
func (g GitHub) validateAuth() []error {
	const (
		setToken = "EXPBOT_GITHUB_TOKEN or github.token_file"
		setKey   = "EXPBOT_GITHUB_APP_PRIVATE_KEY or github.app_private_key_file"
		setID    = "github.app_id (EXPBOT_GITHUB_APP_ID)"
	)
	switch {
	case g.Token != "" && g.AppAuth():
		return []error{fmt.Errorf("github has both an API token and GitHub App settings: use one, either %s, or %s with %s", setToken, setID, setKey)}
	case g.Token == "" && !g.AppAuth():
		return []error{fmt.Errorf("github is enabled but has no credentials: set %s, or for a GitHub App %s and %s", setToken, setID, setKey)}
	case g.Token != "":
		return nil
	}
	var errs []error
	if g.AppID <= 0 {
		errs = append(errs, fmt.Errorf("github App authentication needs the app's id: set %s", setID))
	}
	if g.AppPrivateKey == "" {
		errs = append(errs, fmt.Errorf("github App authentication needs the app's private key: set %s", setKey))
	} else if err := CheckRSAKey(g.AppPrivateKey.Reveal()); err != nil {
		errs = append(errs, fmt.Errorf("github App private key: %w", err))
	}
	if g.AppInstallationID < 0 {
		errs = append(errs, errors.New("github.app_installation_id must be positive (or unset, to look each repository's installation up)"))
	}
	return errs
}

// CheckRSAKey accepts an RSA private key in the PKCS#1 PEM form GitHub
// issues ("BEGIN RSA PRIVATE KEY"): the pulumi-github provider reads no
// other. The error never quotes the key.
func CheckRSAKey(pemText string) error {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return errors.New("not a PEM block: use the .pem file GitHub gave when the key was generated")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if _, ok := k.(*rsa.PrivateKey); !ok {
			return errors.New("the private key is not an RSA key; GitHub Apps sign with RS256")
		}
		return errors.New("the key is in PKCS#8 form (BEGIN PRIVATE KEY), which the pulumi-github provider cannot read: use the .pem file as GitHub gave it (BEGIN RSA PRIVATE KEY), or convert it with `openssl rsa -in key.pem -traditional -out app.pem`")
	}
	return fmt.Errorf("the PEM block (%s) is not a readable RSA private key", block.Type)
}

// BackendURL is the Pulumi state backend, by default next to the database:
// in the PostgreSQL store's database (PulumiStateTable) when there is one,
// so that every process sharing the store shares the state too.
func (c *Config) BackendURL() (string, error) {
	if c.Pulumi.BackendURL != "" {
		return c.Pulumi.BackendURL, nil
	}
	if c.StoreURL != "" {
		return postgresStateURL(c.StoreURL, os.Getenv("PGSSLMODE"))
	}
	abs, err := filepath.Abs(filepath.Join(c.DataDir, "pulumi", "state"))
	if err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	return "file://" + abs, nil
}

// option is one setting reachable from env and flags; the table doubles as
// the reference the README documents.
type option struct {
	key, env, flag, help string
	set                  func(c *Config, v string) error
}

func str(p func(c *Config) *string) func(c *Config, v string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func boolean(p func(c *Config) *bool) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*p(c) = b
		return nil
	}
}

func duration(p func(c *Config) *time.Duration) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration like 30s or 720h, got %q", v)
		}
		*p(c) = d
		return nil
	}
}

func bytesize(p func(c *Config) *int64) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want a number of bytes, got %q", v)
		}
		*p(c) = n
		return nil
	}
}

func integer(p func(c *Config) *int) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", v)
		}
		*p(c) = n
		return nil
	}
}

func int64Opt(p func(c *Config) *int64) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", v)
		}
		*p(c) = n
		return nil
	}
}

var options = []option{
	{"listen", "EXPBOT_LISTEN", "listen", "address to serve HTTP on", str(func(c *Config) *string { return &c.Listen })},
	{"data_dir", "EXPBOT_DATA_DIR", "data-dir", "directory for the SQLite database and local Pulumi state", str(func(c *Config) *string { return &c.DataDir })},
	{"store_url", "EXPBOT_STORE_URL", "store-url", "PostgreSQL database shared by replicas (postgres://...); empty = SQLite in data_dir", str(func(c *Config) *string { return &c.StoreURL })},
	{"log_level", "EXPBOT_LOG_LEVEL", "log-level", "debug, info, warn or error", str(func(c *Config) *string { return &c.LogLevel })},
	{"body_limit", "EXPBOT_BODY_LIMIT", "body-limit", "largest webhook body accepted, in bytes", bytesize(func(c *Config) *int64 { return &c.BodyLimit })},
	{"body_timeout", "EXPBOT_BODY_TIMEOUT", "body-timeout", "longest a request may take to send its headers and body", duration(func(c *Config) *time.Duration { return &c.BodyTimeout })},
	{"unverified_body_budget", "EXPBOT_UNVERIFIED_BODY_BUDGET", "unverified-body-budget", "bytes of webhook bodies held at once before their signature is checked", bytesize(func(c *Config) *int64 { return &c.BodyBudget })},
	{"label", "EXPBOT_LABEL", "label", "issue label that requests an experiment", str(func(c *Config) *string { return &c.Label })},
	{"branch_template", "EXPBOT_BRANCH_TEMPLATE", "branch-template", "branch name template ({number}, {name}, {forge})", str(func(c *Config) *string { return &c.BranchTemplate })},
	{"pull_branch_template", "EXPBOT_PULL_BRANCH_TEMPLATE", "pull-branch-template", "branch name template for /experiment commands", str(func(c *Config) *string { return &c.PullTemplate })},
	{"command_access", "EXPBOT_COMMAND_ACCESS", "command-access", "least access for /experiment commands that change or preview", str(func(c *Config) *string { return &c.CommandAccess })},
	{"allow", "EXPBOT_ALLOW", "allow", "repositories served: comma-separated host/owner/repo globs, ! excludes", func(c *Config, v string) error { c.Allow = splitList(v); return nil }},
	{"tag_pattern", "EXPBOT_TAG_PATTERN", "tag-pattern", "glob of tag names that start a sweep", str(func(c *Config) *string { return &c.TagPattern })},
	{"sweep_file", "EXPBOT_SWEEP_FILE", "sweep-file", "sweep definition read at the tagged commit", str(func(c *Config) *string { return &c.SweepFile })},
	{"sweep_limit", "EXPBOT_SWEEP_LIMIT", "sweep-limit", "most combinations one sweep may make", integer(func(c *Config) *int { return &c.SweepLimit })},
	{"variant_file", "EXPBOT_VARIANT_FILE", "variant-file", "path of the committed variant file", str(func(c *Config) *string { return &c.VariantFile })},
	{"retire", "EXPBOT_RETIRE", "retire", "keep or delete a retired experiment's branch", str(func(c *Config) *string { return &c.Retire })},
	{"workers", "EXPBOT_WORKERS", "workers", "jobs run at once", integer(func(c *Config) *int { return &c.Workers })},
	{"shutdown_grace", "EXPBOT_SHUTDOWN_GRACE", "shutdown-grace", "how long SIGTERM waits for running work", duration(func(c *Config) *time.Duration { return &c.ShutdownGrace })},
	{"delivery_retention", "EXPBOT_DELIVERY_RETENTION", "delivery-retention", "how long delivery ids are kept to spot redeliveries", duration(func(c *Config) *time.Duration { return &c.DeliveryRetention })},
	{"drift_interval", "EXPBOT_DRIFT_INTERVAL", "drift-interval", "how often each repository is checked for drift (0 = never)", duration(func(c *Config) *time.Duration { return &c.DriftInterval })},
	{"pulumi.cli", "EXPBOT_PULUMI", "pulumi", "path of the pulumi CLI", str(func(c *Config) *string { return &c.Pulumi.CLI })},
	{"pulumi.home", "EXPBOT_PULUMI_HOME", "pulumi-home", "PULUMI_HOME holding the provider plugins", str(func(c *Config) *string { return &c.Pulumi.Home })},
	{"pulumi.plugin_dir", "EXPBOT_PULUMI_PLUGIN_DIR", "pulumi-plugin-dir", "provider plugins on a read-only file system, linked as pulumi.home's plugins", str(func(c *Config) *string { return &c.Pulumi.PluginDir })},
	{"pulumi.nice", "EXPBOT_PULUMI_NICE", "pulumi-nice", "how much lower the CPU priority of Pulumi runs is", integer(func(c *Config) *int { return &c.Pulumi.Nice })},
	{"pulumi.idle", "EXPBOT_PULUMI_IDLE", "pulumi-idle", "Pulumi runs get only CPU time nothing else wants (Linux SCHED_IDLE)", boolean(func(c *Config) *bool { return &c.Pulumi.Idle })},
	{"pulumi.history_keep", "EXPBOT_PULUMI_HISTORY_KEEP", "pulumi-history-keep", "updates of each stack whose history (summary and state copy) is kept; 0 keeps all", integer(func(c *Config) *int { return &c.Pulumi.HistoryKeep })},
	{"pulumi.backend_url", "EXPBOT_PULUMI_BACKEND_URL", "pulumi-backend-url", "Pulumi state backend (file://, postgres://, s3://...)", str(func(c *Config) *string { return &c.Pulumi.BackendURL })},
	{"github.enabled", "EXPBOT_GITHUB_ENABLED", "github", "serve GitHub webhooks", boolean(func(c *Config) *bool { return &c.GitHub.Enabled })},
	{"github.api_url", "EXPBOT_GITHUB_API_URL", "github-api-url", "GitHub Enterprise root URL (empty for github.com)", str(func(c *Config) *string { return &c.GitHub.APIURL })},
	{"github.web_url", "EXPBOT_GITHUB_WEB_URL", "github-web-url", "GitHub web root for links", str(func(c *Config) *string { return &c.GitHub.WebURL })},
	{"github.app_id", "EXPBOT_GITHUB_APP_ID", "github-app-id", "GitHub App id (App authentication instead of a token)", int64Opt(func(c *Config) *int64 { return &c.GitHub.AppID })},
	{"github.app_installation_id", "EXPBOT_GITHUB_APP_INSTALLATION_ID", "github-app-installation-id", "the one GitHub App installation to use (default: each repository's own)", int64Opt(func(c *Config) *int64 { return &c.GitHub.AppInstallationID })},
	{"github.write_delay_ms", "EXPBOT_GITHUB_WRITE_DELAY_MS", "github-write-delay-ms", "pause between the provider's writes (0 = provider default)", integer(func(c *Config) *int { return &c.GitHub.WriteDelayMs })},
	{"gitlab.enabled", "EXPBOT_GITLAB_ENABLED", "gitlab", "serve GitLab webhooks", boolean(func(c *Config) *bool { return &c.GitLab.Enabled })},
	{"gitlab.api_url", "EXPBOT_GITLAB_API_URL", "gitlab-api-url", "GitLab API root ending in /api/v4/", str(func(c *Config) *string { return &c.GitLab.APIURL })},
	{"gitlab.web_url", "EXPBOT_GITLAB_WEB_URL", "gitlab-web-url", "GitLab web root for links", str(func(c *Config) *string { return &c.GitLab.WebURL })},
}

// AdminClient is what `expbot sync` needs to reach a running bot's admin
// API: its URL and the admin token.
type AdminClient struct {
	URL   string // EXPBOT_ADMIN_URL, else http:// plus EXPBOT_LISTEN (or the default listen address)
	Token Secret // EXPBOT_ADMIN_TOKEN or the file EXPBOT_ADMIN_TOKEN_FILE names
}

// LoadAdminClient reads the admin client's settings from the environment.
func LoadAdminClient(getenv func(string) string) (AdminClient, error) {
	var c Config
	if err := c.loadSecrets(func(k string) string {
		if strings.HasPrefix(k, "EXPBOT_ADMIN_TOKEN") {
			return getenv(k)
		}
		return ""
	}); err != nil {
		return AdminClient{}, err
	}
	if c.AdminToken == "" {
		return AdminClient{}, errors.New("no admin token: set EXPBOT_ADMIN_TOKEN or EXPBOT_ADMIN_TOKEN_FILE to the bot's")
	}
	u := getenv("EXPBOT_ADMIN_URL")
	if u == "" {
		listen := getenv("EXPBOT_LISTEN")
		if listen == "" {
			listen = Defaults().Listen
		}
		u = "http://" + listen
	}
	return AdminClient{URL: strings.TrimSuffix(u, "/"), Token: c.AdminToken}, nil
}
