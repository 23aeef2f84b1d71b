package main

// #cgo pkg-config: gtk+-3.0
// #include <gtk/gtk.h>
// #include <stdlib.h>
//
// static GtkWidget* kata_open_files_dialog(const char *title) {
// 	GtkWidget *d = gtk_file_chooser_dialog_new(title, NULL, GTK_FILE_CHOOSER_ACTION_OPEN,
// 		"_Cancel", GTK_RESPONSE_CANCEL, "_Open", GTK_RESPONSE_ACCEPT, NULL);
// 	gtk_file_chooser_set_select_multiple(GTK_FILE_CHOOSER(d), TRUE);
// 	return d;
// }
import "C"

import (
	"errors"
	"strings"
	"unsafe"
)

// pickFiles runs a GTK file chooser that selects several files at once
// (sqweek/dialog's chooser selects one). It shares sqweek/dialog's GTK,
// initialised by that package, and its way of closing a dialog outside a
// GTK main loop. The filter matches each extension in lower and upper case
// (cameras write .JPG). A cancelled dialog returns no paths and no error.
func pickFiles(title, filterName string, exts ...string) ([]string, error) {
	if C.gtk_init_check(nil, nil) == C.FALSE {
		return nil, errors.New("cannot open a file dialog: GTK found no display")
	}
	ctitle := C.CString(title)
	defer C.free(unsafe.Pointer(ctitle))
	dlg := C.kata_open_files_dialog(ctitle)
	defer closeGTKDialog(dlg)
	chooser := (*C.GtkFileChooser)(unsafe.Pointer(dlg))

	if len(exts) > 0 {
		filter := C.gtk_file_filter_new()
		cname := C.CString(filterName)
		defer C.free(unsafe.Pointer(cname))
		C.gtk_file_filter_set_name(filter, cname)
		for _, ext := range exts {
			for _, e := range []string{strings.ToLower(ext), strings.ToUpper(ext)} {
				cpattern := C.CString("*." + e)
				C.gtk_file_filter_add_pattern(filter, cpattern)
				C.free(unsafe.Pointer(cpattern))
			}
		}
		C.gtk_file_chooser_add_filter(chooser, filter)
	}

	if C.gtk_dialog_run((*C.GtkDialog)(unsafe.Pointer(dlg))) != C.GTK_RESPONSE_ACCEPT {
		return nil, nil
	}
	list := C.gtk_file_chooser_get_filenames(chooser)
	defer C.g_slist_free(list)
	var paths []string
	for l := list; l != nil; l = l.next {
		paths = append(paths, C.GoString((*C.char)(l.data)))
		C.g_free(C.gpointer(l.data))
	}
	return paths, nil
}

// closeGTKDialog destroys dlg and, with no GTK main loop running, handles
// the pending events that take it off the screen.
func closeGTKDialog(dlg *C.GtkWidget) {
	C.gtk_widget_destroy(dlg)
	for C.gtk_events_pending() != 0 {
		C.gtk_main_iteration()
	}
}
