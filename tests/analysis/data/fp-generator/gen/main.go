package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintf(os.Stdout, "package main\n\nconst generated = %q\n", os.Args[1])
}
