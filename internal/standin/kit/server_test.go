package kit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// fakeRes records what the server hands it.
type fakeRes struct {
	created resource.PropertyMap
	gone    bool
}

func (f *fakeRes) Schema() Schema {
	return Schema{Token: "t:index/x:X", Inputs: []string{"in"}, Outputs: []string{"out"}}
}
func (f *fakeRes) Check(_ context.Context, in CheckInput) (resource.PropertyMap, Failures, error) {
	var fl Failures
	fl.Required(in.News, "in")
	return in.News, fl, nil
}
func (f *fakeRes) Diff(_ context.Context, in DiffInput) (*pulumirpc.DiffResponse, error) {
	return f.Schema().Diff(in.Olds, in.News), nil
}
func (f *fakeRes) Create(_ context.Context, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	f.created = news
	outs := Copy(news)
	SetStr(outs, "out", "o")
	return "id1", outs, nil
}
func (f *fakeRes) Read(_ context.Context, in ReadInput) (ReadResult, error) {
	if f.gone {
		return ReadResult{}, nil
	}
	return ReadResult{ID: in.ID, Outputs: in.State, Inputs: in.Inputs}, nil
}
func (f *fakeRes) Update(_ context.Context, in UpdateInput) (resource.PropertyMap, error) {
	return in.News, nil
}
func (f *fakeRes) Delete(context.Context, DeleteInput) error { return errors.New("boom") }

type fakeCfg struct{ got resource.PropertyMap }

func (c *fakeCfg) CheckConfig(_ context.Context, news resource.PropertyMap) (resource.PropertyMap, Failures, error) {
	return news, nil, nil
}
func (c *fakeCfg) Configure(_ context.Context, cfg resource.PropertyMap) error {
	c.got = cfg
	return nil
}
func (c *fakeCfg) IsStringConfig(string) bool { return true }

func mustStruct(t *testing.T, pm resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := Marshal(pm, "t")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const urn = "urn:pulumi:dev::p::t:index/x:X::res"

func TestServerProtocol(t *testing.T) {
	ctx := context.Background()
	res, cfg := &fakeRes{}, &fakeCfg{}
	s := NewServer("t", "1.2.3", cfg, res)

	info, err := s.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.GetVersion() != "1.2.3" {
		t.Fatalf("GetPluginInfo = %v, %v", info, err)
	}
	conf, err := s.Configure(ctx, &pulumirpc.ConfigureRequest{Variables: map[string]string{"t:config:token": "x"}})
	if err != nil || !conf.GetAcceptSecrets() || !conf.GetSupportsPreview() {
		t.Fatalf("Configure = %v, %v", conf, err)
	}
	if Str(cfg.got, "token") != "x" {
		t.Errorf("configured token = %v", cfg.got)
	}

	chk, err := s.Check(ctx, &pulumirpc.CheckRequest{Urn: urn, News: mustStruct(t, resource.PropertyMap{})})
	if err != nil || len(chk.GetFailures()) != 1 || chk.GetFailures()[0].GetProperty() != "in" {
		t.Fatalf("Check failures = %v, %v", chk.GetFailures(), err)
	}

	secretIn := resource.PropertyMap{"in": resource.MakeSecret(resource.NewStringProperty("v"))}
	prev, err := s.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Properties: mustStruct(t, secretIn), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.created != nil {
		t.Error("preview must not call Create")
	}
	if outs, _ := Unmarshal(prev.GetProperties(), "t"); !outs["out"].IsComputed() {
		t.Errorf("preview out = %v, want unknown", outs["out"])
	}

	cr, err := s.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Properties: mustStruct(t, secretIn)})
	if err != nil || cr.GetId() != "id1" {
		t.Fatalf("Create = %v, %v", cr, err)
	}
	if Str(res.created, "in") != "v" {
		t.Errorf("resource saw %v", res.created)
	}
	outs, _ := Unmarshal(cr.GetProperties(), "t")
	if !outs["in"].IsSecret() || outs["out"].IsSecret() {
		t.Errorf("outputs secretness wrong: %v", outs)
	}

	res.gone = true
	rd, err := s.Read(ctx, &pulumirpc.ReadRequest{Urn: urn, Id: "id1", Properties: cr.GetProperties()})
	if err != nil || rd.GetId() != "" {
		t.Errorf("Read of a gone resource = %v, %v; want empty id", rd, err)
	}

	_, err = s.Delete(ctx, &pulumirpc.DeleteRequest{Urn: urn, Id: "id1"})
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), urn) {
		t.Errorf("Delete error = %v, want wrapped boom with the URN", err)
	}

	_, err = s.Check(ctx, &pulumirpc.CheckRequest{Urn: "urn:pulumi:dev::p::t:index/y:Y::r", News: mustStruct(t, nil)})
	if err == nil || !strings.Contains(err.Error(), "t:index/y:Y") {
		t.Errorf("unknown type error = %v", err)
	}
}

func TestDiffConfigNeverReplaces(t *testing.T) {
	s := NewServer("t", "1", &fakeCfg{})
	d, err := s.DiffConfig(context.Background(), &pulumirpc.DiffRequest{
		Urn:  "urn:pulumi:dev::p::pulumi:providers:t::default",
		Olds: mustStruct(t, resource.PropertyMap{"baseUrl": resource.NewStringProperty("a"), "version": resource.NewStringProperty("1")}),
		News: mustStruct(t, resource.PropertyMap{"baseUrl": resource.NewStringProperty("b"), "version": resource.NewStringProperty("2")}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) != 0 || len(d.GetDiffs()) != 1 {
		t.Errorf("DiffConfig = %v", d)
	}
}
