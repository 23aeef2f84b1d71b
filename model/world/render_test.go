package world

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"math/rand/v2"
	"strings"
	"testing"
)

func sceneFor(kind, action string) Scene {
	return Scene{Kind: kind, Color: "blue", Action: action, Background: "plain", BackColor: "white", Seed: 1}
}

func hashImage(img *image.NRGBA) string {
	h := sha256.Sum256(img.Pix)
	return hex.EncodeToString(h[:8])
}

// TestRenderPinned pins the bytes of a few renders: a change here means
// renders differ from those of earlier versions (and of other machines),
// which invalidates trained judges and the built-in model's data.
func TestRenderPinned(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var scenes []Scene
	for range 4 {
		scenes = append(scenes, RandomScene(rng))
	}
	tests := []struct {
		scene Scene
		size  int
		want  string
	}{
		{sceneFor("person", "handstand"), 64, "77697d90b686214e"},
		{sceneFor("robot", "salute"), 128, "ce7f64684d66949b"},
		{scenes[0], 64, "7d23c16958c60f76"},
		{scenes[1], 64, "414e2d765540a321"},
		{scenes[2], 128, "73601bada89ed55b"},
		{scenes[3], 128, "d0e791e015b67ff6"},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got := hashImage(Render(tc.scene, tc.size))
			if got != tc.want {
				t.Errorf("render of %+v at %d: hash %s, want %s", tc.scene, tc.size, got, tc.want)
			}
			if again := hashImage(Render(tc.scene, tc.size)); again != got {
				t.Errorf("second render hash %s differs from first %s", again, got)
			}
		})
	}
}

// TestRenderJitter: the seed changes the pose, so no two renders of one
// action are the same.
func TestRenderJitter(t *testing.T) {
	for _, a := range Actions() {
		s := sceneFor("person", a)
		seen := map[string]uint64{}
		for seed := range uint64(8) {
			s.Seed = seed
			h := hashImage(Render(s, 64))
			if prev, dup := seen[h]; dup {
				t.Fatalf("%s: seeds %d and %d render the same pixels", a, prev, seed)
			}
			seen[h] = seed
		}
	}
}

// figureMask marks the pixels where the render of s differs from its plain
// background.
func figureMask(s Scene, size int) ([]bool, int) {
	img := Render(s, size)
	bg := backRGB[s.BackColor]
	mask := make([]bool, size*size)
	n := 0
	for i := range mask {
		p := img.Pix[4*i:]
		d := absDiff(p[0], bg.r) + absDiff(p[1], bg.g) + absDiff(p[2], bg.b)
		if d > 60 {
			mask[i] = true
			n++
		}
	}
	return mask, n
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// TestRenderInsideFrame: every kind x action, at both tuned sizes, with the
// largest scale and the placement nearest an edge, leaves the outermost
// pixels untouched and stays visible.
func TestRenderInsideFrame(t *testing.T) {
	for _, size := range []int{64, 128} {
		for _, k := range Kinds {
			for _, a := range Actions() {
				for _, place := range []struct{ x, scale, rot float64 }{{0.2, 0.85, -15}, {0.8, 0.85, 15}, {0.5, 0.35, 0}} {
					s := sceneFor(k, a)
					s.X, s.Scale, s.Rotation, s.Flip = place.x, place.scale, place.rot, place.x > 0.5
					mask, n := figureMask(s, size)
					if n < size*size/50 {
						t.Errorf("%s %s at %d %+v: only %d figure pixels", k, a, size, place, n)
					}
					for i := range size {
						for _, p := range [][2]int{{i, 0}, {i, size - 1}, {0, i}, {size - 1, i}} {
							if mask[p[1]*size+p[0]] {
								t.Errorf("%s %s at %d %+v: figure touches the frame at %v", k, a, size, place, p)
							}
						}
					}
				}
			}
		}
	}
}

// nearestSameLabel renders the scene of every label with 6 seeds of its own
// (no two labels share a seed, so no two renders share their jitter) and
// reports each render whose nearest other render by silhouette (pixels in
// one mask and not the other) has another label.
func nearestSameLabel(t *testing.T, what string, labels []string, scene func(label string) Scene) {
	t.Helper()
	const size, seeds = 64, 6
	xor := func(a, b []bool) int {
		n := 0
		for i := range a {
			if a[i] != b[i] {
				n++
			}
		}
		return n
	}
	type render struct {
		label string
		mask  []bool
	}
	var rs []render
	for li, l := range labels {
		for seed := range uint64(seeds) {
			s := scene(l)
			s.Seed = uint64(li)*seeds + seed
			m, _ := figureMask(s, size)
			rs = append(rs, render{l, m})
		}
	}
	for i, r := range rs {
		best, bestD := -1, 1<<30
		for j, o := range rs {
			if d := xor(r.mask, o.mask); j != i && d < bestD {
				best, bestD = j, d
			}
		}
		if rs[best].label != r.label {
			t.Errorf("%s %s (seed %d): nearest silhouette is a %s (%d pixels apart)", what, r.label, i%seeds, rs[best].label, bestD)
		}
	}
}

// TestPosesDistinct: with placement fixed, every render's nearest other
// render by silhouette shows the same action: each action's jittered poses
// stay closer to each other than to any other action's, for every kind.
func TestPosesDistinct(t *testing.T) {
	for _, k := range Kinds {
		nearestSameLabel(t, k, Actions(), func(a string) Scene { return sceneFor(k, a) })
	}
}

// TestKindsDistinct: likewise, for every action, each kind's silhouettes are
// nearest to the same kind's.
func TestKindsDistinct(t *testing.T) {
	for _, a := range Actions() {
		nearestSameLabel(t, a, Kinds, func(k string) Scene { return sceneFor(k, a) })
	}
}

func TestValidate(t *testing.T) {
	ok := sceneFor("person", "wave")
	tests := []struct {
		name string
		edit func(*Scene)
		want string // "" for valid
	}{
		{"valid", func(*Scene) {}, ""},
		{"clothed person", func(s *Scene) { s.Shirt, s.Trousers = "red", "black" }, ""},
		{"unknown kind", func(s *Scene) { s.Kind = "dragon" }, `kind "dragon"`},
		{"unknown colour", func(s *Scene) { s.Color = "teal" }, `color "teal"`},
		{"unknown action", func(s *Scene) { s.Action = "fly" }, `action "fly"`},
		{"unknown background", func(s *Scene) { s.Background = "tartan" }, `background "tartan"`},
		{"unknown tint", func(s *Scene) { s.BackColor = "" }, `back color ""`},
		{"unknown prop", func(s *Scene) { s.Prop = "car" }, `prop "car"`},
		{"robot in a shirt", func(s *Scene) { s.Kind, s.Shirt = "robot", "red" }, "wears no clothes"},
		{"scale too big", func(s *Scene) { s.Scale = 0.9 }, "scale"},
		{"x off frame", func(s *Scene) { s.X = 0.95 }, "x 0.95"},
		{"rotation", func(s *Scene) { s.Rotation = -20 }, "rotation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			err := s.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := render(ok, MinSize-1); err == nil {
		t.Fatal("render below MinSize: no error")
	}
}

// TestRandomScene: every name of every list is drawn, and every drawn scene
// is valid.
func TestRandomScene(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for range 3000 {
		s := RandomScene(rng)
		if err := s.Validate(); err != nil {
			t.Fatalf("RandomScene gave an invalid scene: %v", err)
		}
		for _, v := range []string{"k:" + s.Kind, "c:" + s.Color, "a:" + s.Action, "b:" + s.Background, "t:" + s.BackColor, "p:" + s.Prop} {
			seen[v] = true
		}
	}
	lists := map[string][]string{"k:": Kinds, "c:": Colors, "a:": Actions(), "b:": Backgrounds, "t:": BackColors, "p:": append([]string{""}, Props...)}
	for prefix, list := range lists {
		for _, v := range list {
			if !seen[prefix+v] {
				t.Errorf("RandomScene never drew %s%q in 3000 scenes", prefix, v)
			}
		}
	}
}

func BenchmarkRender(b *testing.B) {
	for _, size := range []int{64, 128} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 6))
			scenes := make([]Scene, 256)
			for i := range scenes {
				scenes[i] = RandomScene(rng)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				Render(scenes[i%len(scenes)], size)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "renders/s")
		})
	}
}

// TestBackgroundsAndProps: every pattern draws something of its own on every
// tint (a plain one is one colour), and every prop shows.
func TestBackgroundsAndProps(t *testing.T) {
	for _, tint := range BackColors {
		for _, bg := range Backgrounds {
			c := newCanvas(64)
			drawBackground(c, bg, backRGB[tint], rand.New(rand.NewPCG(1, streamBackground)))
			colours := map[[3]uint8]bool{}
			for i := 0; i < len(c.img.Pix); i += 4 {
				colours[[3]uint8(c.img.Pix[i:i+3])] = true
			}
			if plain := bg == "plain"; plain != (len(colours) == 1) {
				t.Errorf("%s %s background: %d colours", tint, bg, len(colours))
			}
		}
	}
	base := sceneFor("bear", "stand")
	without := Render(base, 64)
	for _, p := range Props {
		s := base
		s.Prop = p
		with := Render(s, 64)
		diff := 0
		for i := range with.Pix {
			if with.Pix[i] != without.Pix[i] {
				diff++
			}
		}
		if diff < 4*20 {
			t.Errorf("prop %s changes only %d bytes of the render", p, diff)
		}
	}
}
