// Command server answers GET /hello?name=... and GET /healthz on :8080 (or $ADDR).
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"time"

	"example.com/go-multiarch/internal/greeting"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-version" {
		os.Stdout.WriteString(greeting.Platform() + "\n")
		return
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"message":  greeting.For(r.URL.Query().Get("name")),
			"platform": greeting.Platform(),
		})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on %s (%s)", addr, greeting.Platform())
	log.Fatal(srv.ListenAndServe())
}
