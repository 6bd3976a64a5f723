package httpapi_test

import (
	"os"
	"testing"

	"github.com/wagate-dev/wagate/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }
