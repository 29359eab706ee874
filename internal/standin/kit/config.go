package kit

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// ConfigInputs merges the two forms in which the engine sends provider
// configuration: the legacy `variables` map, keyed "<pkg>:config:<key>" with
// every non-string value JSON-encoded (what Terraform-bridged providers read),
// and `args`, the real values. Args win where both are present. Secrets are
// removed: the provider needs the plain values.
func ConfigInputs(req *pulumirpc.ConfigureRequest, pkg string, isString func(string) bool) (resource.PropertyMap, error) {
	cfg := resource.PropertyMap{}
	prefix := pkg + ":config:"
	for k, raw := range req.GetVariables() { //nolint:staticcheck // the legacy field is still sent by the engine
		key := strings.TrimPrefix(k, prefix)
		if key == k || key == "version" {
			continue
		}
		cfg[resource.PropertyKey(key)] = variableValue(key, raw, isString)
	}
	if args := req.GetArgs(); args != nil {
		pm, err := plugin.UnmarshalProperties(args, plugin.MarshalOptions{
			Label:     "config args",
			SkipNulls: true,
		})
		if err != nil {
			return nil, fmt.Errorf("unmarshal config args: %w", err)
		}
		for k, v := range pm {
			if k == "version" {
				continue
			}
			cfg[k] = v
		}
	}
	return cfg, nil
}

func variableValue(key, raw string, isString func(string) bool) resource.PropertyValue {
	if isString(key) {
		return resource.NewStringProperty(raw)
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		// Not JSON after all: keep the text, the typed getters parse it.
		return resource.NewStringProperty(raw)
	}
	return resource.NewPropertyValue(v)
}
