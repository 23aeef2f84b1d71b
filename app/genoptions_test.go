package app

import (
	"strings"
	"testing"
)

func TestGenerateDefaultsValidate(t *testing.T) {
	if err := DefaultGenerateSettings.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, tc := range []struct {
		mod  func(*GenerateDefaults)
		want string
	}{
		{func(d *GenerateDefaults) { d.Sampler = "warp" }, "sampler"},
		{func(d *GenerateDefaults) { d.Steps = 0 }, "steps"},
		{func(d *GenerateDefaults) { d.CFG = 99 }, "CFG"},
		{func(d *GenerateDefaults) { d.Size = 500 }, "size"},
	} {
		d := DefaultGenerateSettings
		tc.mod(&d)
		if err := d.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %s", d, err, tc.want)
		}
	}
	d := DefaultGenerateSettings
	d.Size = 256
	if r := d.Request(GenerateRequest{Prompt: "x"}); r.Width != 256 || r.Height != 256 || r.Sampler != DefaultGenerateSettings.Sampler || r.Prompt != "x" {
		t.Fatalf("request %+v", r)
	}
}
