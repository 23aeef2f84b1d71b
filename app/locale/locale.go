// Package locale makes a C or POSIX locale with a codeset (C.UTF-8, the
// default of Debian and of most containers) read as English to Fyne, which
// otherwise logs "Error parsing user locale C" on every start, even for
// `kata version`: its locale library (jeandeaual/go-locale) treats only the
// exact values "C" and "POSIX" as no locale, and passes "C" on to a BCP 47
// parser that refuses it.
//
// It works in its package initialiser, which runs before Fyne's: it imports
// only syscall, so by Go's package initialisation order (packages sorted by
// import path, each initialised as soon as its imports are) it runs before
// package os, which Fyne's lang package needs. It sets LANGUAGE=en, and only
// when LANGUAGE is unset and the locale is C or POSIX; gettext ignores
// LANGUAGE under those locales, so programs Kata starts see no change.
package locale

import "syscall"

func init() { apply(syscall.Getenv, syscall.Setenv) }

// apply sets LANGUAGE to "en" when the first of LC_ALL, LC_MESSAGES and LANG
// that is set (the order locale libraries read them in) names the C or POSIX
// locale with a codeset or modifier ("C.UTF-8", "POSIX@x"), and LANGUAGE is
// unset.
func apply(getenv func(string) (string, bool), setenv func(k, v string) error) {
	if v, ok := getenv("LANGUAGE"); ok && v != "" {
		return
	}
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v, ok := getenv(k)
		if !ok || v == "" {
			continue
		}
		if v != "C" && v != "POSIX" && isC(v) {
			_ = setenv("LANGUAGE", "en")
		}
		return
	}
}

// isC reports whether a locale value is C or POSIX, with or without a
// ".codeset" or "@modifier".
func isC(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] == '.' || v[i] == '@' {
			v = v[:i]
			break
		}
	}
	return v == "C" || v == "POSIX"
}
