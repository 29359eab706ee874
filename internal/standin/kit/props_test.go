package kit

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func TestGettersUnwrapSecretsAndParseStrings(t *testing.T) {
	pm := resource.PropertyMap{
		"tok":   resource.MakeSecret(resource.NewStringProperty("t0k")),
		"n":     resource.NewNumberProperty(42),
		"ns":    resource.NewStringProperty("7"),
		"bs":    resource.NewStringProperty("true"),
		"bad":   resource.NewStringProperty("nope"),
		"frac":  resource.NewNumberProperty(1.5),
		"unk":   resource.MakeComputed(resource.NewStringProperty("")),
		"null":  resource.NewNullProperty(),
		"bsecr": resource.MakeSecret(resource.NewBoolProperty(true)),
	}
	if got := Str(pm, "tok"); got != "t0k" {
		t.Errorf("Str(secret) = %q", got)
	}
	if got := Str(pm, "n"); got != "42" {
		t.Errorf("Str(number) = %q", got)
	}
	if n, set, err := Int(pm, "ns"); n != 7 || !set || err != nil {
		t.Errorf("Int(string) = %d %v %v", n, set, err)
	}
	if _, _, err := Int(pm, "frac"); err == nil {
		t.Error("Int(1.5) should fail")
	}
	if b, set, err := Bool(pm, "bs"); !b || !set || err != nil {
		t.Errorf("Bool(string) = %v %v %v", b, set, err)
	}
	if b, set, err := Bool(pm, "bsecr"); !b || !set || err != nil {
		t.Errorf("Bool(secret) = %v %v %v", b, set, err)
	}
	if _, _, err := Bool(pm, "bad"); err == nil {
		t.Error("Bool(nope) should fail")
	}
	if !Has(pm, "unk") || Known(pm, "unk") {
		t.Error("unknown must count as present but not known")
	}
	if Has(pm, "null") || Has(pm, "missing") {
		t.Error("null and missing must not count as present")
	}
}

func TestMarshalRoundTripKeepsSecretsAndUnknowns(t *testing.T) {
	in := resource.PropertyMap{
		"s": resource.MakeSecret(resource.NewStringProperty("x")),
		"u": resource.MakeComputed(resource.NewStringProperty("")),
	}
	st, err := Marshal(in, "t")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Unmarshal(st, "t")
	if err != nil {
		t.Fatal(err)
	}
	if !out["s"].IsSecret() || !out["u"].IsComputed() {
		t.Errorf("round trip lost wrappers: %v", out)
	}
}

func TestAnnotateSecrets(t *testing.T) {
	outs := resource.PropertyMap{
		"content": resource.NewStringProperty("c"),
		"sha":     resource.NewStringProperty("s"),
	}
	AnnotateSecrets(outs, resource.PropertyMap{"content": resource.MakeSecret(resource.NewStringProperty("c"))})
	if !outs["content"].IsSecret() {
		t.Error("content should become secret")
	}
	if outs["sha"].IsSecret() {
		t.Error("sha must stay plain")
	}
}
