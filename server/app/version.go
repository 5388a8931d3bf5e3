package app

import (
	"runtime/debug"
	"strings"
)

// buildVersion is set by `make build` (-ldflags -X ...app.buildVersion=$(git describe)), for
// builds where Go records no VCS information (GOFLAGS=-buildvcs=false, a worktree, a tarball).
var buildVersion string

// Version describes this binary: the main module's version (a tag when built by `go install
// module@version`, "(devel)" in a checkout) and, when built from a git checkout, the commit, its
// time and whether the tree was modified. It is printed by --version and logged at start.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build info)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, when string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if buildVersion != "" {
		v = buildVersion
	}
	parts := []string{v}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "-dirty"
		}
		parts = append(parts, "commit "+rev)
	}
	if when != "" {
		parts = append(parts, when)
	}
	parts = append(parts, bi.GoVersion)
	return strings.Join(parts, " ")
}
