package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SanitizeName makes a display name safe to show and store: invalid UTF-8 and non-printable
// runes (controls, format characters such as bidi overrides and zero-width joiners) are
// dropped, any run of whitespace becomes one space, the result is trimmed and cut to 32 runes.
// It may return "" (IssueGuest then uses "guest").
func SanitizeName(s string) string {
	var b strings.Builder
	n := 0
	pendingSpace := false
	for i := 0; i < len(s) && n < MaxNameLen; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			continue
		case unicode.IsSpace(r):
			pendingSpace = n > 0
			continue
		case !unicode.IsPrint(r):
			continue
		}
		if pendingSpace {
			if n+1 >= MaxNameLen {
				break
			}
			b.WriteByte(' ')
			n++
			pendingSpace = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// validID: 1..MaxIDLen bytes of valid UTF-8, every rune printable (ASCII space allowed).
func validID(s string) bool {
	if s == "" || len(s) > MaxIDLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
