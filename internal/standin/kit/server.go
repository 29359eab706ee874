package kit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// CheckInput is what Resource.Check receives.
type CheckInput struct {
	URN        resource.URN
	Olds, News resource.PropertyMap
	RandomSeed []byte
}

// DiffInput is what Resource.Diff receives; Olds is the old state (outputs).
type DiffInput struct {
	ID                    string
	Olds, News, OldInputs resource.PropertyMap
	IgnoreChanges         []string
}

// ReadInput is what Resource.Read receives; State and Inputs are empty on import.
type ReadInput struct {
	ID            string
	State, Inputs resource.PropertyMap
}

// ReadResult is what Resource.Read returns; an empty ID means "gone".
type ReadResult struct {
	ID              string
	Outputs, Inputs resource.PropertyMap
}

// UpdateInput is what Resource.Update receives; Olds is the old state.
type UpdateInput struct {
	ID                    string
	Olds, News, OldInputs resource.PropertyMap
}

// DeleteInput is what Resource.Delete receives.
type DeleteInput struct {
	ID               string
	State, OldInputs resource.PropertyMap
}

// Resource implements one resource type. The server handles marshalling,
// secrets and previews; implementations only see known values in CRUD calls.
type Resource interface {
	Schema() Schema
	Check(ctx context.Context, in CheckInput) (resource.PropertyMap, Failures, error)
	Diff(ctx context.Context, in DiffInput) (*pulumirpc.DiffResponse, error)
	Create(ctx context.Context, news resource.PropertyMap) (id string, outs resource.PropertyMap, err error)
	Read(ctx context.Context, in ReadInput) (ReadResult, error)
	Update(ctx context.Context, in UpdateInput) (resource.PropertyMap, error)
	Delete(ctx context.Context, in DeleteInput) error
}

// Configurer implements the provider's own configuration.
type Configurer interface {
	CheckConfig(ctx context.Context, news resource.PropertyMap) (resource.PropertyMap, Failures, error)
	// Configure receives the merged configuration (secrets removed) and must
	// make the provider ready for CRUD calls.
	Configure(ctx context.Context, cfg resource.PropertyMap) error
	// IsStringConfig tells whether a config key is string-typed: the legacy
	// `variables` map JSON-encodes every other type.
	IsStringConfig(key string) bool
}

// Server is a generic pulumirpc.ResourceProviderServer for the stand-ins.
type Server struct {
	pulumirpc.UnimplementedResourceProviderServer
	name, version string
	cfg           Configurer
	resources     map[string]Resource
}

// NewServer returns a server for provider name at version.
func NewServer(name, version string, cfg Configurer, resources ...Resource) *Server {
	s := &Server{name: name, version: version, cfg: cfg, resources: map[string]Resource{}}
	for _, r := range resources {
		s.resources[r.Schema().Token] = r
	}
	return s
}

// Handshake advertises the protocol features the stand-ins support.
func (s *Server) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

// GetPluginInfo reports the version the engine matched the plugin directory by.
func (s *Server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: s.version}, nil
}

// GetSchema returns a minimal schema; the Automation API does not need more.
func (s *Server) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	b, err := json.Marshal(map[string]string{"name": s.name, "version": s.version})
	if err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	return &pulumirpc.GetSchemaResponse{Schema: string(b)}, nil
}

// Cancel has nothing to stop: every call is bounded by its context.
func (s *Server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// CheckConfig validates the provider configuration.
func (s *Server) CheckConfig(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := Unmarshal(req.GetNews(), "config news")
	if err != nil {
		return nil, err
	}
	inputs, failures, err := s.cfg.CheckConfig(ctx, news)
	if err != nil {
		return nil, fmt.Errorf("check %s config: %w", s.name, err)
	}
	return s.checkResponse(inputs, news, failures)
}

// DiffConfig reports configuration changes as in-place updates: none of the
// official providers' config keys force replacing the provider.
func (s *Server) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := Unmarshal(req.GetOlds(), "config olds")
	if err != nil {
		return nil, err
	}
	news, err := Unmarshal(req.GetNews(), "config news")
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for k := range olds {
		keys[string(k)] = true
	}
	for k := range news {
		keys[string(k)] = true
	}
	delete(keys, "version")
	schema := Schema{}
	for k := range keys {
		schema.Inputs = append(schema.Inputs, k)
	}
	return schema.Diff(olds, news, req.GetIgnoreChanges()...), nil
}

// Configure merges the legacy `variables` with `args` and configures the provider.
func (s *Server) Configure(ctx context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	cfg, err := ConfigInputs(req, s.name, s.cfg.IsStringConfig)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Configure(ctx, cfg); err != nil {
		return nil, fmt.Errorf("configure %s: %w", s.name, err)
	}
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (s *Server) resource(urn, typ string) (Resource, error) {
	if typ == "" {
		typ = string(resource.URN(urn).Type())
	}
	r, ok := s.resources[typ]
	if !ok {
		return nil, fmt.Errorf("stand-in %s provider does not implement resource type %q", s.name, typ)
	}
	return r, nil
}

// Check validates resource inputs and applies defaults.
func (s *Server) Check(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	r, err := s.resource(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	olds, err := Unmarshal(req.GetOlds(), "olds")
	if err != nil {
		return nil, err
	}
	news, err := Unmarshal(req.GetNews(), "news")
	if err != nil {
		return nil, err
	}
	inputs, failures, err := r.Check(ctx, CheckInput{
		URN: resource.URN(req.GetUrn()), Olds: olds, News: news, RandomSeed: req.GetRandomSeed(),
	})
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", req.GetUrn(), err)
	}
	return s.checkResponse(inputs, news, failures)
}

func (s *Server) checkResponse(inputs, news resource.PropertyMap, failures Failures) (*pulumirpc.CheckResponse, error) {
	AnnotateSecrets(inputs, news)
	m, err := Marshal(inputs, "inputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: m, Failures: failures}, nil
}

// Diff compares old state and new inputs.
func (s *Server) Diff(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	r, err := s.resource(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	in := DiffInput{ID: req.GetId(), IgnoreChanges: req.GetIgnoreChanges()}
	if in.Olds, err = Unmarshal(req.GetOlds(), "olds"); err != nil {
		return nil, err
	}
	if in.News, err = Unmarshal(req.GetNews(), "news"); err != nil {
		return nil, err
	}
	if in.OldInputs, err = Unmarshal(req.GetOldInputs(), "old inputs"); err != nil {
		return nil, err
	}
	resp, err := r.Diff(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", req.GetUrn(), err)
	}
	return resp, nil
}

// Create creates the resource, or predicts its outputs during a preview.
func (s *Server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	r, err := s.resource(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	news, err := Unmarshal(req.GetProperties(), "properties")
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		outs := r.Schema().PreviewOutputs(nil, news)
		m, err := Marshal(outs, "preview outputs")
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Properties: m}, nil
	}
	id, outs, err := r.Create(ctx, news)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", req.GetUrn(), err)
	}
	AnnotateSecrets(outs, news)
	m, err := Marshal(outs, "outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: m}, nil
}

// Read refreshes (or imports) the resource; an empty ID tells the engine it is gone.
func (s *Server) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	r, err := s.resource(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	in := ReadInput{ID: req.GetId()}
	if in.State, err = Unmarshal(req.GetProperties(), "properties"); err != nil {
		return nil, err
	}
	if in.Inputs, err = Unmarshal(req.GetInputs(), "inputs"); err != nil {
		return nil, err
	}
	res, err := r.Read(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", req.GetUrn(), err)
	}
	if res.ID == "" {
		return &pulumirpc.ReadResponse{}, nil
	}
	AnnotateSecrets(res.Outputs, in.State)
	AnnotateSecrets(res.Inputs, in.Inputs)
	outs, err := Marshal(res.Outputs, "outputs")
	if err != nil {
		return nil, err
	}
	ins, err := Marshal(res.Inputs, "inputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: res.ID, Properties: outs, Inputs: ins}, nil
}

// Update updates the resource in place, or predicts its outputs during a preview.
func (s *Server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	r, err := s.resource(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	in := UpdateInput{ID: req.GetId()}
	if in.Olds, err = Unmarshal(req.GetOlds(), "olds"); err != nil {
		return nil, err
	}
	if in.News, err = Unmarshal(req.GetNews(), "news"); err != nil {
		return nil, err
	}
	if in.OldInputs, err = Unmarshal(req.GetOldInputs(), "old inputs"); err != nil {
		return nil, err
	}
	var outs resource.PropertyMap
	if req.GetPreview() {
		outs = r.Schema().PreviewOutputs(in.Olds, in.News)
	} else if outs, err = r.Update(ctx, in); err != nil {
		return nil, fmt.Errorf("update %s: %w", req.GetUrn(), err)
	}
	AnnotateSecrets(outs, in.News)
	m, err := Marshal(outs, "outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: m}, nil
}

// Delete deletes the resource.
func (s *Server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	r, err := s.resource(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	in := DeleteInput{ID: req.GetId()}
	if in.State, err = Unmarshal(req.GetProperties(), "properties"); err != nil {
		return nil, err
	}
	if in.OldInputs, err = Unmarshal(req.GetOldInputs(), "old inputs"); err != nil {
		return nil, err
	}
	if err := r.Delete(ctx, in); err != nil {
		return nil, fmt.Errorf("delete %s: %w", req.GetUrn(), err)
	}
	return &emptypb.Empty{}, nil
}
