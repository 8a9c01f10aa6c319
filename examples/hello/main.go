// Command hello is a small HTTP server used to show dockwright package.
//
// It answers every request with a greeting, the platform it was built for, and whether
// the image gave it a CA bundle and time-zone data (the built-in static base does).
package main

import (
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"time"
)

func handler(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "Hello from dockwright! (%s/%s)\n", runtime.GOOS, runtime.GOARCH)
	if pool, err := x509.SystemCertPool(); err == nil && !pool.Equal(x509.NewCertPool()) {
		fmt.Fprintln(w, "ca-certificates: present")
	} else {
		fmt.Fprintln(w, "ca-certificates: missing")
	}
	if loc, err := time.LoadLocation("Europe/Paris"); err == nil {
		fmt.Fprintf(w, "timezone data: present (%s)\n", loc)
	} else {
		fmt.Fprintln(w, "timezone data: missing")
	}
}

func main() {
	addr := ":8080"
	if port := os.Getenv("PORT"); port != "" {
		addr = ":" + port
	}
	if len(os.Args) > 1 && os.Args[1] == "-version" {
		fmt.Printf("hello %s/%s\n", runtime.GOOS, runtime.GOARCH)
		return
	}
	http.HandleFunc("/", handler)
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
