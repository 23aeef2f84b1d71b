package main

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// dropFiles drags paths onto the X window target (found with xdotool) over
// the X drag-and-drop protocol (XDND version 5), as a file manager would:
// it owns XdndSelection, sends XdndEnter, XdndPosition and XdndDrop, hands
// over text/uri-list when the target asks, and waits for XdndFinished. No
// Debian tool drags files, so the test carries this small source. The
// message goes to the window, or the child or parent, that has XdndAware.
func dropFiles(display, target string, paths []string) error {
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return fmt.Errorf("xdnd: connect %s: %w", display, err)
	}
	defer conn.Close()
	setup := xproto.Setup(conn)
	root := setup.DefaultScreen(conn).Root
	atoms := map[string]xproto.Atom{}
	for _, name := range []string{"XdndAware", "XdndSelection", "XdndEnter", "XdndPosition", "XdndStatus",
		"XdndDrop", "XdndFinished", "XdndLeave", "XdndActionCopy", "text/uri-list"} {
		r, err := xproto.InternAtom(conn, false, uint16(len(name)), name).Reply()
		if err != nil {
			return fmt.Errorf("xdnd: atom %s: %w", name, err)
		}
		atoms[name] = r.Atom
	}
	id, err := strconv.ParseUint(target, 10, 32)
	if err != nil {
		return fmt.Errorf("xdnd: window id %q: %w", target, err)
	}
	win, err := xdndAware(conn, xproto.Window(id), atoms["XdndAware"])
	if err != nil {
		return err
	}
	src, err := xproto.NewWindowId(conn)
	if err != nil {
		return err
	}
	if err := xproto.CreateWindowChecked(conn, 0, src, root, 0, 0, 1, 1, 0, xproto.WindowClassInputOnly,
		0, xproto.CwEventMask, []uint32{xproto.EventMaskPropertyChange}).Check(); err != nil {
		return fmt.Errorf("xdnd: source window: %w", err)
	}
	defer xproto.DestroyWindow(conn, src)
	if err := xproto.SetSelectionOwnerChecked(conn, src, atoms["XdndSelection"], xproto.TimeCurrentTime).Check(); err != nil {
		return fmt.Errorf("xdnd: own XdndSelection: %w", err)
	}
	geo, err := xproto.GetGeometry(conn, xproto.Drawable(win)).Reply()
	if err != nil {
		return fmt.Errorf("xdnd: geometry: %w", err)
	}
	at, err := xproto.TranslateCoordinates(conn, win, root, int16(geo.Width/2), int16(geo.Height/2)).Reply()
	if err != nil {
		return fmt.Errorf("xdnd: coordinates: %w", err)
	}
	send := func(kind string, data ...uint32) error {
		for len(data) < 5 {
			data = append(data, 0)
		}
		ev := xproto.ClientMessageEvent{Format: 32, Window: win, Type: atoms[kind],
			Data: xproto.ClientMessageDataUnionData32New(data)}
		return xproto.SendEventChecked(conn, false, win, xproto.EventMaskNoEvent, string(ev.Bytes())).Check()
	}
	var uris strings.Builder
	for _, p := range paths {
		uris.WriteString((&url.URL{Scheme: "file", Path: p}).String() + "\r\n")
	}
	if err := send("XdndEnter", uint32(src), 5<<24, uint32(atoms["text/uri-list"])); err != nil {
		return fmt.Errorf("xdnd: enter: %w", err)
	}
	if err := send("XdndPosition", uint32(src), 0, uint32(at.DstX)<<16|uint32(uint16(at.DstY)),
		xproto.TimeCurrentTime, uint32(atoms["XdndActionCopy"])); err != nil {
		return fmt.Errorf("xdnd: position: %w", err)
	}
	events := make(chan xgb.Event, 16)
	go func() {
		for {
			ev, err := conn.WaitForEvent()
			if ev == nil && err == nil {
				close(events)
				return
			}
			if ev != nil {
				events <- ev
			}
		}
	}()
	deadline := time.After(20 * time.Second)
	dropped := false
	for {
		select {
		case <-deadline:
			return errors.New("xdnd: the target did not finish the drop within 20s")
		case ev, ok := <-events:
			if !ok {
				return errors.New("xdnd: connection closed")
			}
			switch e := ev.(type) {
			case xproto.ClientMessageEvent:
				switch e.Type {
				case atoms["XdndStatus"]:
					if e.Data.Data32[1]&1 == 0 {
						_ = send("XdndLeave", uint32(src))
						return errors.New("xdnd: the target refused the drop")
					}
					if !dropped {
						dropped = true
						if err := send("XdndDrop", uint32(src), 0, xproto.TimeCurrentTime); err != nil {
							return fmt.Errorf("xdnd: drop: %w", err)
						}
					}
				case atoms["XdndFinished"]:
					return nil
				}
			case xproto.SelectionRequestEvent:
				data := []byte(uris.String())
				prop := e.Property
				if prop == xproto.AtomNone {
					prop = e.Target
				}
				xproto.ChangeProperty(conn, xproto.PropModeReplace, e.Requestor, prop, atoms["text/uri-list"], 8, uint32(len(data)), data)
				n := xproto.SelectionNotifyEvent{Time: e.Time, Requestor: e.Requestor, Selection: e.Selection, Target: e.Target, Property: prop}
				xproto.SendEvent(conn, false, e.Requestor, xproto.EventMaskNoEvent, string(n.Bytes()))
			}
		}
	}
}

// xdndAware finds, from w, the window that carries XdndAware: w itself, a
// child (depth first) or a parent.
func xdndAware(conn *xgb.Conn, w xproto.Window, aware xproto.Atom) (xproto.Window, error) {
	has := func(w xproto.Window) bool {
		r, err := xproto.GetProperty(conn, false, w, aware, xproto.AtomAny, 0, 1).Reply()
		return err == nil && r.ValueLen > 0
	}
	var down func(w xproto.Window, depth int) (xproto.Window, bool)
	down = func(w xproto.Window, depth int) (xproto.Window, bool) {
		if has(w) {
			return w, true
		}
		if depth == 0 {
			return 0, false
		}
		tree, err := xproto.QueryTree(conn, w).Reply()
		if err != nil {
			return 0, false
		}
		for _, c := range tree.Children {
			if found, ok := down(c, depth-1); ok {
				return found, true
			}
		}
		return 0, false
	}
	if found, ok := down(w, 3); ok {
		return found, nil
	}
	for up := w; ; {
		tree, err := xproto.QueryTree(conn, up).Reply()
		if err != nil || tree.Parent == 0 || tree.Parent == tree.Root {
			break
		}
		if up = tree.Parent; has(up) {
			return up, nil
		}
	}
	return 0, fmt.Errorf("xdnd: window %d and its relatives lack XdndAware", w)
}
