// Command tag-server is tickrelay with the tag game added: every flag of the tickrelay binary
// (see --help), plus "tag" in GET /v1/games.
//
//	go run ./game/examples/tag/cmd/tag-server --demo client-js/demo --sdk client-js/dist/browser
package main

import (
	"fmt"
	"os"

	"github.com/tickrelay/tickrelay/game/examples/tag"
	"github.com/tickrelay/tickrelay/server/app"
)

func main() {
	if err := app.Main(os.Args[1:], tag.Type); err != nil {
		fmt.Fprintln(os.Stderr, "tag-server:", err)
		os.Exit(1)
	}
}
