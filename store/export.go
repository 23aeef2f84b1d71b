package store

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kata/store/atomicfile"
	"kata/store/contenthash"
	"kata/store/imagemeta"
)

// Image formats for export.
const (
	FormatPNG  = "png"
	FormatJPEG = "jpeg"
)

// ExportImage writes a generation's image to w: PNG as stored (with the
// A1111 "parameters" and "kata" chunks) or JPEG at quality with the
// parameters in EXIF UserComment.
func (l *Library) ExportImage(ctx context.Context, w io.Writer, g Generation, format string, quality int) error {
	switch format {
	case FormatPNG, "":
		data, err := l.ReadBlob(g.Image)
		if err != nil {
			return fmt.Errorf("export generation %d: %w", g.ID, err)
		}
		_, err = w.Write(data)
		return err
	case FormatJPEG, "jpg":
		img, err := l.Image(g.Image)
		if err != nil {
			return fmt.Errorf("export generation %d: %w", g.ID, err)
		}
		s, err := l.storedSettings(ctx, g)
		if err != nil {
			return fmt.Errorf("export generation %d: %w", g.ID, err)
		}
		if quality == 0 {
			quality = 92
		}
		return imagemeta.EncodeJPEG(w, img, quality, s)
	}
	return fmt.Errorf("export: unknown image format %q (want png or jpeg)", format)
}

// storedSettings returns the settings the generation's stored PNG carries,
// so that a JPEG export says what the PNG says; a PNG without them (none is
// written so) falls back to Settings.
func (l *Library) storedSettings(ctx context.Context, g Generation) (imagemeta.Settings, error) {
	data, err := l.ReadBlob(g.Image)
	if err != nil {
		return imagemeta.Settings{}, err
	}
	s, err := imagemeta.ReadPNG(bytes.NewReader(data))
	if errors.Is(err, imagemeta.ErrNoSettings) {
		return l.Settings(ctx, g)
	}
	return s, err
}

// ExportName is the file name (without extension) a generation gets on
// export: id, subject, action and seed, e.g. "0042-panda-handstand-1234".
func (l *Library) ExportName(ctx context.Context, g Generation) string {
	parts := []string{fmt.Sprintf("%04d", g.ID)}
	if g.SubjectID != 0 {
		if s, err := l.Subject(ctx, g.SubjectID); err == nil {
			parts = append(parts, s.Name)
		}
	}
	if g.ActionID != 0 {
		if a, err := l.Action(ctx, g.ActionID); err == nil {
			parts = append(parts, a.Name)
		}
	}
	parts = append(parts, fmt.Sprint(g.Seed))
	return SafeName(strings.Join(parts, "-"))
}

// ExportImages writes each generation into dir as <ExportName>.png or .jpg
// and returns the paths written. Each file is written atomically.
func (l *Library) ExportImages(ctx context.Context, dir string, gens []Generation, format string, quality int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	ext := ".png"
	if format == FormatJPEG || format == "jpg" {
		ext = ".jpg"
	}
	var paths []string
	for _, g := range gens {
		if err := ctx.Err(); err != nil {
			return paths, err
		}
		p := filepath.Join(dir, l.ExportName(ctx, g)+ext)
		err := atomicfile.Write(p, func(w io.Writer) error { return l.ExportImage(ctx, w, g, format, quality) })
		if err != nil {
			return paths, fmt.Errorf("export %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// IdentifierFileName is the name an identifier version gets on export:
// "<name>-<method>-v<version>.safetensors".
func IdentifierFileName(id Identifier, v IdentifierVersion) string {
	return SafeName(fmt.Sprintf("%s-%s-v%d", id.Name, id.Method, v.Version)) + ".safetensors"
}

// Selection is what goes into an export archive.
type Selection struct {
	Generations        []Generation
	Exemplars          []Exemplar
	IdentifierVersions []int64
}

// ManifestEntry describes one file of an export archive in manifest.json.
type ManifestEntry struct {
	Path     string              `json:"path"`
	Kind     string              `json:"kind"` // generation, exemplar, identifier
	SHA256   string              `json:"sha256"`
	Action   string              `json:"action,omitempty"`
	Subject  string              `json:"subject,omitempty"`
	Caption  string              `json:"caption,omitempty"`
	Settings *imagemeta.Settings `json:"settings,omitempty"`
	// Identifier fields.
	Method        string             `json:"method,omitempty"`
	Version       int                `json:"version,omitempty"`
	BaseModelHash string             `json:"base_model_hash,omitempty"`
	Params        map[string]any     `json:"params,omitempty"`
	Metrics       map[string]float64 `json:"metrics,omitempty"`
}

// Manifest is manifest.json of an export archive.
type Manifest struct {
	Format  string          `json:"format"` // "kata/export"
	Version int             `json:"version"`
	Created time.Time       `json:"created"`
	Files   []ManifestEntry `json:"files"`
}

// ExportZip writes a zip of the selection to w: generations/ (PNG with
// settings), exemplars/<action>/ (PNG), identifiers/ (.safetensors) and a
// manifest.json describing each file.
func (l *Library) ExportZip(ctx context.Context, w io.Writer, sel Selection) error {
	zw := zip.NewWriter(w)
	m := Manifest{Format: "kata/export", Version: 1, Created: time.Now().UTC()}
	used := map[string]bool{}
	add := func(path string, data []byte, e ManifestEntry) error {
		for i := 2; used[path]; i++ {
			ext := filepath.Ext(e.Path)
			path = strings.TrimSuffix(e.Path, ext) + fmt.Sprintf("-%d", i) + ext
		}
		used[path] = true
		e.Path, e.SHA256 = path, contenthash.Bytes(data)
		f, err := zw.CreateHeader(&zip.FileHeader{Name: path, Method: zip.Store, Modified: m.Created})
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
		m.Files = append(m.Files, e)
		return nil
	}
	actionName := func(id int64) string {
		if a, err := l.Action(ctx, id); err == nil {
			return a.Name
		}
		return ""
	}
	for _, g := range sel.Generations {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := l.ReadBlob(g.Image)
		if err != nil {
			return fmt.Errorf("export generation %d: %w", g.ID, err)
		}
		s, err := l.storedSettings(ctx, g)
		if err != nil {
			return fmt.Errorf("export generation %d: %w", g.ID, err)
		}
		e := ManifestEntry{Kind: "generation", Settings: &s, Action: actionName(g.ActionID)}
		if sub, err := l.Subject(ctx, g.SubjectID); err == nil {
			e.Subject = sub.Name
		}
		p := "generations/" + l.ExportName(ctx, g) + ".png"
		e.Path = p
		if err := add(p, data, e); err != nil {
			return err
		}
	}
	for _, ex := range sel.Exemplars {
		data, err := l.ReadBlob(ex.Image)
		if err != nil {
			return fmt.Errorf("export exemplar %d: %w", ex.ID, err)
		}
		a := actionName(ex.ActionID)
		name := fmt.Sprintf("%04d", ex.ID)
		if ex.Source != "" {
			name = strings.TrimSuffix(filepath.Base(ex.Source), filepath.Ext(ex.Source))
		}
		p := "exemplars/" + SafeName(a) + "/" + SafeName(name) + ".png"
		if err := add(p, data, ManifestEntry{Path: p, Kind: "exemplar", Action: a, Caption: ex.Caption}); err != nil {
			return err
		}
	}
	for _, vid := range sel.IdentifierVersions {
		v, err := l.IdentifierVersion(ctx, vid)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		id, err := l.Identifier(ctx, v.IdentifierID)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		data, err := l.ReadBlob(v.File)
		if err != nil {
			return fmt.Errorf("export identifier %s: %w", id.Name, err)
		}
		p := "identifiers/" + IdentifierFileName(id, v)
		e := ManifestEntry{Path: p, Kind: "identifier", Action: actionName(id.ActionID), Method: id.Method, Version: v.Version,
			BaseModelHash: id.BaseModelHash, Params: v.Params, Metrics: v.Metrics}
		if err := add(p, data, e); err != nil {
			return err
		}
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	f, err := zw.Create("manifest.json")
	if err != nil {
		return err
	}
	if _, err := f.Write(mj); err != nil {
		return err
	}
	return zw.Close()
}

// ExportZipFile writes ExportZip to path atomically.
func (l *Library) ExportZipFile(ctx context.Context, path string, sel Selection) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return l.ExportZip(ctx, w, sel) }); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	return nil
}

// ReadSettings returns the generation settings stored in a PNG or JPEG file
// ("use these settings again"), from Kata's JSON or the A1111 parameters.
func ReadSettings(path string) (imagemeta.Settings, error) {
	f, err := os.Open(path)
	if err != nil {
		return imagemeta.Settings{}, err
	}
	defer f.Close()
	var head [8]byte
	n, _ := io.ReadFull(f, head[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return imagemeta.Settings{}, err
	}
	var s imagemeta.Settings
	switch {
	case n >= 8 && string(head[:8]) == "\x89PNG\r\n\x1a\n":
		s, err = imagemeta.ReadPNG(f)
	case n >= 2 && head[0] == 0xff && head[1] == 0xd8:
		s, err = imagemeta.ReadJPEG(f)
	default:
		return s, fmt.Errorf("%s: %w", path, errors.New("settings are read from PNG and JPEG files only"))
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// SafeName turns text into a portable file name part: letters, digits, '-',
// '_' and '.', other runs become '-', at most 80 bytes.
func SafeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
			(r > 127 && (r >= 0xC0 && r != 0xD7 && r != 0xF7 && r < 0x2000))
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	for len(out) > 80 {
		_, size := lastRune(out)
		out = out[:len(out)-size]
	}
	if out == "" {
		out = "untitled"
	}
	return out
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return []rune(s[i:])[0], len(s) - i
		}
	}
	return 0, 1
}
