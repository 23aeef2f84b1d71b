package app

import (
	"path/filepath"
	"testing"

	"kata/model/sd/sdtest"
)

func TestBuiltinModelListedFirst(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	t.Setenv(EnvBuiltinModel, "none")
	if _, ok, err := k.AddBuiltinModel(nil); ok || err != nil {
		t.Fatalf("no built-in model: ok %v, %v", ok, err)
	}
	t.Setenv(EnvBuiltinModel, filepath.Join(t.TempDir(), "missing"))
	if _, ok, _ := k.AddBuiltinModel(nil); ok {
		t.Fatal("a missing built-in model was added")
	}
	t.Setenv(EnvBuiltinModel, sdtest.TinyDir())
	info, ok, err := k.AddBuiltinModel(nil)
	if err != nil || !ok || !info.Builtin || info.Name != BuiltinModelName {
		t.Fatalf("built-in: %+v %v %v", info, ok, err)
	}
	again, ok, err := k.AddBuiltinModel(nil)
	if err != nil || !ok || again.ID != info.ID {
		t.Fatalf("second call: %+v %v %v", again, ok, err)
	}
	models, err := k.Models()
	if err != nil || len(models) != 1 || !models[0].Builtin {
		t.Fatalf("models %+v, %v", models, err)
	}
	// Without the setting the same library row is an ordinary model.
	t.Setenv(EnvBuiltinModel, "none")
	if models, _ = k.Models(); models[0].Builtin || models[0].Name == BuiltinModelName {
		t.Fatalf("models %+v", models)
	}
}

func TestBuiltinFirstByPath(t *testing.T) {
	in := []ModelInfo{{ID: 1, Name: "model", Path: "/a/model"}, {ID: 2, Name: "model", Path: "/b/model"}}
	out := builtinFirst(in, "/b/model")
	if out[0].ID != 2 || !out[0].Builtin || out[1].Builtin || out[1].Name != "model" {
		t.Fatalf("got %+v", out)
	}
}

func TestSetBackend(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.SetBackend("quantum"); err == nil {
		t.Fatal("unknown backend accepted")
	}
	got, err := k.SetBackend("go")
	if err != nil || got == "" || k.Backend() != "go" {
		t.Fatalf("SetBackend(go) = %q, %v; Backend %q", got, err, k.Backend())
	}
	if d := DetectBackend(); len(d) != len(BackendChoices) || d[1] == "" {
		t.Fatalf("DetectBackend %q", d)
	}
}

func TestModelOrBuiltin(t *testing.T) {
	t.Setenv(EnvBuiltinModel, "none")
	if _, err := modelOrBuiltin(""); err != ErrNoBuiltinModel {
		t.Fatalf("no model, none built in: %v", err)
	}
	if p, err := modelOrBuiltin("/some/model"); err != nil || p != "/some/model" {
		t.Fatalf("explicit model: %q %v", p, err)
	}
	t.Setenv(EnvBuiltinModel, sdtest.TinyDir())
	if p, err := modelOrBuiltin(""); err != nil || filepath.Base(p) != filepath.Base(sdtest.TinyDir()) {
		t.Fatalf("built-in: %q %v", p, err)
	}
}
