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
	// PickFiles asks for existing files, several at once where the
	// system's dialog allows it, offering those ending in exts.
	PickFiles(title, filterName string, exts ...string) ([]string, error)
	PickFolder(title string) (string, error)
	// SaveFile asks where to save a new file, suggesting name.
	SaveFile(title, name string) (string, error)
}

// page is one entry of the sidebar. load fetches what the page shows and
// runs off the UI goroutine; render builds the view from it on the UI
// goroutine.
type page struct {
	title  string
	icon   fyne.Resource
	load   func() error
	render func() fyne.CanvasObject
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
	settings *settingsPage
	selected int
	bg       background
	// dropDialog is the open "use settings / add as photo" question of a
	// picture dropped on the Gallery (drop.go), nil when none is open.
	dropDialog *dialog.ConfirmDialog
	// deleteDialog is the open "delete ...?" question (delete.go), nil when
	// none is open.
	deleteDialog *dialog.ConfirmDialog
	// shortcuts are the window's Ctrl+key shortcuts by name (entry.go).
	shortcuts map[string]func()
}

// NewMainWindow builds the window on a; svc runs the use cases, picker opens
// native file dialogs.
func NewMainWindow(a fyne.App, svc Services, picker Picker) *MainWindow {
	m := &MainWindow{app: a, win: a.NewWindow("Kata"), svc: svc, picker: picker}
	m.status = widget.NewLabel("")
	m.status.Truncation = fyne.TextTruncateEllipsis
	m.actions = newActionsPage(m)
	m.gallery = newGalleryPage(m)
	m.settings = newSettingsPage(m)
	m.pages = []page{
		{title: "Actions", icon: theme.MediaPhotoIcon(), load: m.actions.load, render: m.actions.render},
		{title: "Gallery", icon: theme.GridIcon(), load: m.gallery.load, render: m.gallery.render},
		{title: "Settings", icon: theme.SettingsIcon(), load: m.settings.load, render: m.settings.render},
	}
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
	m.win.Canvas().SetOnTypedKey(m.typedKey)
	m.addShortcut(fyne.KeyO, m.actions.addPhotoFromDialog)
	m.addShortcut(fyne.KeyReturn, func() {
		if m.selected == galleryPageIndex {
			m.gallery.start()
		}
	})
	m.addShortcut(fyne.KeyE, m.gallery.export)
	for i, key := range []fyne.KeyName{fyne.Key1, fyne.Key2, fyne.Key3} {
		m.addShortcut(key, func() { m.sidebar.Select(i) })
	}
	m.addShortcut(fyne.KeyQ, m.Quit)
	m.restoreSize()
	m.sidebar.Select(0)
	return m
}

// Quit remembers the window's size and quits the app. It must run on the UI
// goroutine: a signal handler calls it through fyne.Do.
func (m *MainWindow) Quit() {
	m.saveSize()
	m.app.Quit()
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
	if m.selected == galleryPageIndex && len(paths) == 1 {
		m.dropOnGallery(paths[0])
		return
	}
	m.sidebar.Select(0)
	m.actions.addPhotos(paths)
}

// typedKey handles keys no focused widget took: Delete removes the selected
// photo or action on the Actions page and the ticked images on the Gallery,
// each after asking (deleteKey).
func (m *MainWindow) typedKey(e *fyne.KeyEvent) {
	if e.Name == fyne.KeyDelete {
		m.deleteKey()
	}
}

// CurrentPage is the title of the page shown.
func (m *MainWindow) CurrentPage() string {
	return m.pages[m.selected].title
}

// Status is the text in the status bar.
func (m *MainWindow) Status() string { return m.status.Text }

// setStatus must run on the UI goroutine.
func (m *MainWindow) setStatus(s string) { m.status.SetText(s) }

// show selects page id and (re)loads it: the page's data is fetched off the
// UI goroutine, and the view replaces the current one when it arrives,
// unless another page was chosen meanwhile. A page switch shows "Loading…"
// until then; a reload of the same page keeps the old view.
func (m *MainWindow) show(id int) {
	if m.selected != id || len(m.content.Objects) == 0 {
		m.setContent(widget.NewLabel("Loading…"))
	}
	m.selected = id
	pg := m.pages[id]
	m.bg.run(pg.load, func(err error) {
		if m.selected != id {
			return
		}
		if err != nil {
			m.setStatus("Could not read the library: " + err.Error())
		}
		m.setContent(pg.render())
	})
}

func (m *MainWindow) setContent(o fyne.CanvasObject) {
	m.content.Objects = []fyne.CanvasObject{o}
	m.content.Refresh()
}
