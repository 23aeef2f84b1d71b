package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Picker opens the operating system's file dialogs. Its methods block until the
// user answers, so the window only calls them from a background goroutine.
// A cancelled dialog returns "" and a nil error.
type Picker interface {
	// PickFile asks for one existing file, offering those ending in exts.
	PickFile(title, filterName string, exts ...string) (string, error)
	PickFolder(title string) (string, error)
	// SaveFile asks where to save a new file, suggesting name.
	SaveFile(title, name string) (string, error)
}

// page is one entry of the sidebar.
type page struct {
	title string
	icon  fyne.Resource
	view  func() fyne.CanvasObject
}

// MainWindow is Kata's single window: a sidebar (Actions, Gallery) and the
// selected page.
type MainWindow struct {
	app     fyne.App
	win     fyne.Window
	svc     Services
	picker  Picker
	pages   []page
	sidebar *widget.List
	content *fyne.Container
	status  *widget.Label

	models   *modelBar
	actions  *actionsPage
	gallery  *galleryPage
	selected int
	bg       background
	// dropDialog is the open "use settings / add as photo" question of a
	// picture dropped on the Gallery (drop.go), nil when none is open.
	dropDialog *dialog.ConfirmDialog
}

// NewMainWindow builds the window on a; svc runs the use cases, picker opens
// native file dialogs.
func NewMainWindow(a fyne.App, svc Services, picker Picker) *MainWindow {
	m := &MainWindow{app: a, win: a.NewWindow("Kata"), svc: svc, picker: picker}
	m.actions = newActionsPage(m)
	m.gallery = newGalleryPage(m)
	m.pages = []page{
		{title: "Actions", icon: theme.MediaPhotoIcon(), view: m.actions.view},
		{title: "Gallery", icon: theme.GridIcon(), view: m.gallery.view},
	}
	m.status = widget.NewLabel("")
	m.status.Truncation = fyne.TextTruncateEllipsis
	m.models = newModelBar(m)
	m.content = container.NewStack()
	m.sidebar = widget.NewList(
		func() int { return len(m.pages) },
		func() fyne.CanvasObject {
			return container.NewHBox(widget.NewIcon(theme.HomeIcon()), widget.NewLabel("Gallery"))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			box := o.(*fyne.Container)
			box.Objects[0].(*widget.Icon).SetResource(m.pages[id].icon)
			box.Objects[1].(*widget.Label).SetText(m.pages[id].title)
		},
	)
	m.sidebar.OnSelected = func(id widget.ListItemID) { m.show(id) }

	split := container.NewHSplit(m.sidebar, m.content)
	split.Offset = 0.18
	m.win.SetContent(container.NewBorder(m.models.box, m.status, nil, nil, split))
	m.win.SetOnDropped(m.HandleDrop)
	m.win.Canvas().AddShortcut(&shortcutOpen, func(fyne.Shortcut) { m.actions.addPhotoFromDialog() })
	m.win.Canvas().AddShortcut(&shortcutQuit, func(fyne.Shortcut) { a.Quit() })
	m.win.Resize(fyne.NewSize(1100, 720))
	m.sidebar.Select(0)
	return m
}

// Window is the Fyne window, for ShowAndRun.
func (m *MainWindow) Window() fyne.Window { return m.win }

// HandleDrop is the window's drop handler, exported because fyne's test window
// ignores SetOnDropped: tests call it directly. Dropped files go to the Actions
// page, which is shown; one picture with generation settings dropped on the
// Gallery asks first whether to use its settings (dropOnGallery).
func (m *MainWindow) HandleDrop(_ fyne.Position, uris []fyne.URI) {
	paths := make([]string, 0, len(uris))
	for _, u := range uris {
		if u.Scheme() == "file" {
			paths = append(paths, u.Path())
		}
	}
	if len(paths) == 0 {
		return
	}
	if m.selected == galleryPageIndex && len(paths) == 1 && m.dropOnGallery(paths[0]) {
		return
	}
	m.sidebar.Select(0)
	m.actions.addPhotos(paths)
}

// CurrentPage is the title of the page shown.
func (m *MainWindow) CurrentPage() string {
	return m.pages[m.selected].title
}

// Status is the text in the status bar.
func (m *MainWindow) Status() string { return m.status.Text }

// setStatus must run on the UI goroutine.
func (m *MainWindow) setStatus(s string) { m.status.SetText(s) }

func (m *MainWindow) show(id int) {
	m.selected = id
	m.content.Objects = []fyne.CanvasObject{m.pages[id].view()}
	m.content.Refresh()
}

var (
	shortcutOpen = desktopShortcut(fyne.KeyO)
	shortcutQuit = desktopShortcut(fyne.KeyQ)
)
