package app

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRemoveAction(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	keep, err := k.CreateAction("salute")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := k.CreateAction("hand stand")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddPhotos(gone.ID, writePhotos(t, 2)); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(k.workDir(gone.ID), "train-adi-10-0.kts")
	if err := os.MkdirAll(filepath.Dir(ckpt), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ckpt, []byte("state"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := k.RemoveAction(gone.ID); err != nil {
		t.Fatal(err)
	}
	actions, err := k.Actions()
	if err != nil || len(actions) != 1 || actions[0].ID != keep.ID {
		t.Fatalf("actions after the removal %+v, %v", actions, err)
	}
	if _, err := os.Stat(k.workDir(gone.ID)); !os.IsNotExist(err) {
		t.Errorf("checkpoints left: %v", err)
	}
	if err := k.RemoveAction(gone.ID); err == nil {
		t.Error("removing a removed action succeeded")
	}
	if err := k.RemoveGenerations([]int64{12345}); err == nil {
		t.Error("removing an unknown image succeeded")
	}
}
