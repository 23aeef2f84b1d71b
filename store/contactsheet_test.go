package store

import (
	"context"
	"errors"
	"image"
	"strings"
	"testing"
)

// TestDrawSheetErrors: bad layouts and a failing picture are errors that
// say what is wrong; the layout itself is checked by TestContactSheet.
func TestDrawSheetErrors(t *testing.T) {
	none := func(i, j int) (image.Image, error) { return nil, nil }
	boom := errors.New("boom")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name       string
		ctx        context.Context
		rows, cols []string
		cell       int
		pic        func(i, j int) (image.Image, error)
		want       string
	}{
		{"no rows", context.Background(), nil, []string{"a"}, 64, none, "at least one row"},
		{"small cell", context.Background(), []string{"r"}, []string{"a"}, 8, none, "cell size 8 outside"},
		{"too many", context.Background(), make([]string, 101), make([]string, 101), 32, none, "10201 cells"},
		{"picture fails", context.Background(), []string{"r"}, []string{"a"}, 32, func(i, j int) (image.Image, error) { return nil, boom }, "boom"},
		{"cancelled", cancelled, []string{"r"}, []string{"a"}, 32, none, "canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DrawSheet(tc.ctx, tc.rows, tc.cols, tc.cell, tc.pic)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	sheet, err := DrawSheet(context.Background(), []string{"r1", "r2"}, []string{"a"}, 32, none)
	if err != nil || sheet.Bounds().Dy() < 2*32 || sheet.Bounds().Dx() < 32 {
		t.Errorf("2x1 sheet: %v, %v", sheet.Bounds(), err)
	}
}
