package greeting

import (
	"strings"
	"testing"
)

func TestFor(t *testing.T) {
	cases := map[string]string{"": "hello, world, ", "  ada ": "hello, ada, "}
	for in, prefix := range cases {
		if got := For(in); !strings.HasPrefix(got, prefix) {
			t.Errorf("For(%q) = %q, want prefix %q", in, got, prefix)
		}
	}
	if !strings.HasSuffix(For("x"), Platform()) {
		t.Errorf("For does not name the platform")
	}
}
