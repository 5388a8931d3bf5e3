package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

// Every broker and directory goroutine ends with Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
