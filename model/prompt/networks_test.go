package prompt

import (
	"reflect"
	"testing"
)

func TestExtractNetworks(t *testing.T) {
	text, nets := ExtractNetworks("a panda <handstand>, <lora:add_detail:0.8> detailed <hypernet:x:1> <lora:style>")
	if text != "a panda <handstand>,  detailed  " {
		t.Errorf("text %q", text)
	}
	want := []Network{
		{Kind: "lora", Name: "add_detail", Args: []string{"0.8"}},
		{Kind: "hypernet", Name: "x", Args: []string{"1"}},
		{Kind: "lora", Name: "style", Args: []string{}},
	}
	if !reflect.DeepEqual(nets, want) {
		t.Errorf("networks %#v", nets)
	}
	loras, other, err := LoRAs(nets)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loras, []LoRA{{"add_detail", 0.8, 0.8}, {"style", 1, 1}}) {
		t.Errorf("loras %v", loras)
	}
	if len(other) != 1 || other[0].Kind != "hypernet" {
		t.Errorf("other %v", other)
	}
}

func TestLoRAWeights(t *testing.T) {
	cases := []struct {
		tag  string
		want LoRA
		bad  bool
	}{
		{tag: "<lora:a:0.5:0.25>", want: LoRA{"a", 0.5, 0.25}},
		{tag: "<lora:a:te=0.3:unet=0.7>", want: LoRA{"a", 0.3, 0.7}},
		{tag: "<lora:a:0.6:unet=0.1>", want: LoRA{"a", 0.6, 0.1}},
		{tag: "<lora:a:-1>", want: LoRA{"a", -1, -1}},
		{tag: "<lora:a:x>", bad: true},
		{tag: "<lora:a:1:2:3>", bad: true},
		{tag: "<lora:a:dyn=3>", bad: true},
		{tag: "<lora: :1>", bad: true},
	}
	for _, c := range cases {
		_, nets := ExtractNetworks(c.tag)
		got, _, err := LoRAs(nets)
		if c.bad {
			if err == nil {
				t.Errorf("%s accepted: %v", c.tag, got)
			}
			continue
		}
		if err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: %v %v, want %v", c.tag, got, err, c.want)
		}
	}
}
