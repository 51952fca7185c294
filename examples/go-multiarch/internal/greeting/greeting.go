// Package greeting builds the service's answers.
package greeting

import (
	"fmt"
	"runtime"
	"strings"
)

// Platform is the platform this binary was compiled for, as an OCI platform string.
func Platform() string { return runtime.GOOS + "/" + runtime.GOARCH }

// For returns the greeting for name ("world" when empty).
func For(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "world"
	}
	return fmt.Sprintf("hello, %s, from %s", name, Platform())
}
