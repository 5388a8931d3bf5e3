// Command tickrelay runs a tickrelay server: the HTTP API, the WebSocket endpoint and the
// browser demo, with the built-in games. Every flag can also be set with an environment
// variable (TICKRELAY_ plus the flag's name in upper case, dashes as underscores); a flag given
// on the command line wins. See --help, and server/app to build a binary with your own games.
//
//	tickrelay --listen 127.0.0.1:8080 --demo client-js/demo --sdk client-js/dist/browser
package main

import (
	"fmt"
	"os"

	"github.com/tickrelay/tickrelay/server/app"
)

func main() {
	if err := app.Main(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tickrelay:", err)
		os.Exit(1)
	}
}
