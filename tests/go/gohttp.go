// gohttp — a net/http server and client for the seccomp backend's tests:
// Go's net package makes raw system calls, so LD_PRELOAD never sees them.
//
//	gohttp serve ADDR ID   listen on ADDR, print "READY <address>", answer every request with ID
//	gohttp get URL         print the answer's body; exit 1 on an error
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "serve" {
		l, err := net.Listen("tcp", os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("READY", l.Addr())
		id := os.Args[3]
		http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, id) }))
	} else if len(os.Args) == 3 && os.Args[1] == "get" {
		r, err := http.Get(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Print(string(body))
	} else {
		fmt.Fprintln(os.Stderr, "usage: gohttp serve ADDR ID | gohttp get URL")
		os.Exit(2)
	}
}
