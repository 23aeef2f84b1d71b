package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"kata/model/adi"
	"kata/store"
	"kata/store/contenthash"
)

// identifierExts are the extensions of the files ImportDropped imports as
// identifiers instead of photos (".pt" and ".bin" too, so that a pickled
// embedding gets adi.Load's advice on converting it).
var identifierExts = []string{".safetensors", ".pt", ".bin"}

func isIdentifierFile(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	for _, e := range identifierExts {
		if ext == e {
			return true
		}
	}
	return false
}

// ImportedIdentifier is what importIdentifier did with one file.
type ImportedIdentifier struct {
	Action  store.Action
	Trigger string // the trigger prompts name it by, e.g. "<easynegative>"
	Method  adi.Method
	Tokens  int  // prompt tokens the trigger stands for (Identifier.Tokens)
	Version int  // the identifier version stored, or the one it duplicates
	Created bool // the action was created for it
	// Duplicate is set when the action's newest version of that identifier
	// already is this file: nothing was stored.
	Duplicate bool
}

// importIdentifier adds the identifier file at path to lib: Kata's own, or
// another tool's textual-inversion embedding (AUTOMATIC1111/ComfyUI
// {"emb_params"}, a flattened {"string_to_param.*"}, a diffusers
// learned_embeds {"<token>"}; see adi.Load, which also checks the values
// are finite). It becomes the newest version of the identifier (same method
// and base model) of the action whose trigger is the file's trigger ("<x>"
// for x.safetensors when the file names none), and a new action named after
// the trigger when no action has it (removed again when storing fails). The
// file is stored in Kata's layout (adi.Encode), its trigger written in, so
// the library's copy triggers by that name whatever its blob is called.
func importIdentifier(ctx context.Context, lib *store.Library, path string) (ImportedIdentifier, error) {
	id, err := adi.Load(path)
	if err != nil {
		return ImportedIdentifier{}, err
	}
	var buf bytes.Buffer
	if err := adi.Encode(&buf, id); err != nil {
		return ImportedIdentifier{}, fmt.Errorf("import identifier %s: %w", path, err)
	}
	data := buf.Bytes()
	sum, err := contenthash.File(path)
	if err != nil {
		return ImportedIdentifier{}, fmt.Errorf("import identifier %s: %w", path, err)
	}
	out := ImportedIdentifier{Trigger: id.Trigger, Method: id.Method, Tokens: id.Tokens()}
	actions, err := lib.Actions(ctx)
	if err != nil {
		return out, err
	}
	for _, a := range actions {
		if strings.EqualFold(a.Trigger, id.Trigger) {
			out.Action = a
		}
	}
	if out.Action.ID == 0 {
		if out.Action, err = lib.CreateAction(ctx, store.Action{Name: strings.Trim(id.Trigger, "<>"), Trigger: id.Trigger}); err != nil {
			return out, fmt.Errorf("import identifier %s: %w", path, err)
		}
		out.Created = true
	}
	v, err := addImportedVersion(ctx, lib, out.Action, id, data, filepath.Base(path), sum)
	if err != nil {
		if out.Created {
			err = errors.Join(err, lib.DeleteAction(context.WithoutCancel(ctx), out.Action.ID))
		}
		return out, fmt.Errorf("import identifier %s: %w", path, err)
	}
	out.Version, out.Duplicate = v.Version, v.ID == 0
	return out, nil
}

// addImportedVersion stores data, the Kata form of the file named file
// whose SHA-256 is sum, as a new version of a's identifier for id's method
// and base model, unless the newest version was imported from the same
// bytes (then that version is returned with ID 0).
func addImportedVersion(ctx context.Context, lib *store.Library, a store.Action, id *adi.Identifier, data []byte, file, sum string) (store.IdentifierVersion, error) {
	ids, err := lib.Identifiers(ctx, a.ID)
	if err != nil {
		return store.IdentifierVersion{}, err
	}
	var row store.Identifier
	for _, existing := range ids {
		if existing.Method == string(id.Method) && existing.BaseModelHash == id.BaseModelHash {
			row = existing
		}
	}
	if row.ID == 0 {
		if row, err = lib.CreateIdentifier(ctx, store.Identifier{ActionID: a.ID, Method: string(id.Method),
			BaseModelHash: id.BaseModelHash}); err != nil {
			return store.IdentifierVersion{}, err
		}
	} else if last, err := lib.LatestVersion(ctx, row.ID); err == nil && last.Params["source_sha256"] == sum {
		last.ID = 0
		return last, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.IdentifierVersion{}, err
	}
	return lib.AddIdentifierVersion(ctx, store.IdentifierVersion{IdentifierID: row.ID,
		Params: map[string]any{"trigger": id.Trigger, "word": id.Word(), "imported": file, "source_sha256": sum}}, data)
}

// ImportIdentifier adds an identifier file (Kata's, or another tool's
// textual-inversion embedding) to the library, as `kata library
// import-identifier` does (see importIdentifier): prompts in the window then
// name it by its trigger. It returns the action that holds it.
func (k *Kata) ImportIdentifier(path string) (ActionInfo, error) {
	ctx, cancel := opContext()
	defer cancel()
	res, err := importIdentifier(ctx, k.lib, path)
	if err != nil {
		return ActionInfo{}, err
	}
	return k.actionInfo(ctx, res.Action)
}
