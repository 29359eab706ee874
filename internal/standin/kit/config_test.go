package kit

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestConfigInputsMergesVariablesAndArgs(t *testing.T) {
	args, err := Marshal(resource.PropertyMap{
		"token":   resource.MakeSecret(resource.NewStringProperty("from-args")),
		"version": resource.NewStringProperty("6.12.1"),
	}, "args")
	if err != nil {
		t.Fatal(err)
	}
	req := &pulumirpc.ConfigureRequest{
		Variables: map[string]string{
			"github:config:token":        "from-vars",
			"github:config:writeDelayMs": "5",
			"github:config:insecure":     "true",
			"github:config:owner":        "123",
			"other:config:owner":         "ignored",
		},
		Args: args,
	}
	isString := func(k string) bool { return k == "token" || k == "owner" }
	cfg, err := ConfigInputs(req, "github", isString)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg["token"]; !got.IsString() || got.StringValue() != "from-args" {
		t.Errorf("token = %v, want plain from-args (args win, secret removed)", got)
	}
	if got := cfg["writeDelayMs"]; !got.IsNumber() || got.NumberValue() != 5 {
		t.Errorf("writeDelayMs = %v, want number 5 (JSON-decoded)", got)
	}
	if got := cfg["insecure"]; !got.IsBool() || !got.BoolValue() {
		t.Errorf("insecure = %v, want true", got)
	}
	if got := cfg["owner"]; !got.IsString() || got.StringValue() != "123" {
		t.Errorf("owner = %v, want the string 123 (string keys are not JSON-decoded)", got)
	}
	if _, ok := cfg["version"]; ok {
		t.Error("version must be dropped")
	}
}
