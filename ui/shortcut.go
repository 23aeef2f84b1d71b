package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
)

// desktopShortcut is Ctrl+key (Cmd+key on macOS, which fyne maps from
// KeyModifierShortcutDefault).
func desktopShortcut(key fyne.KeyName) desktop.CustomShortcut {
	return desktop.CustomShortcut{KeyName: key, Modifier: fyne.KeyModifierShortcutDefault}
}
