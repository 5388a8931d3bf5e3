// Package app is tickrelay's composition root: it turns a command line (and TICKRELAY_*
// environment variables) into a configured server, runs it, and stops it on SIGINT/SIGTERM.
//
// The tickrelay binary is app.Main with the built-in games. A game developer's own binary is the
// same thing with their games added, and keeps every flag, its environment variable, --help and
// --version:
//
//	func main() {
//		if err := app.Main(os.Args[1:], tag.Type); err != nil {
//			fmt.Fprintln(os.Stderr, "tickrelay:", err)
//			os.Exit(1)
//		}
//	}
//
// Goroutines: Main runs on the caller's goroutine and blocks until a signal (or the context given
// to Run) ends it; the server's own goroutines are the server package's. Anyone adding a flag adds
// it in flags.go, with its default, its --help text and its line in server/API.md.
package app
