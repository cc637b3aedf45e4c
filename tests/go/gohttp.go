// gohttp — a net/http server and client for the seccomp backend's tests:
// Go's net package makes raw system calls, so LD_PRELOAD never sees them.
//
//	gohttp serve ADDR ID   listen on ADDR, print "READY <address>", answer every request with ID
//	gohttp get URL [N]     print the body of the answer (exit 1 on an error); with N, make N
//	                       requests, each on a new connection, printing the body or "ERR <error>"
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func get(c *http.Client, url string) (string, error) {
	r, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	return string(body), err
}

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
	} else if (len(os.Args) == 3 || len(os.Args) == 4) && os.Args[1] == "get" {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		if len(os.Args) == 3 {
			body, err := get(c, os.Args[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			fmt.Print(body)
			return
		}
		n, _ := strconv.Atoi(os.Args[3])
		for i := 0; i < n; i++ {
			if body, err := get(c, os.Args[2]); err != nil {
				fmt.Println("ERR", strings.ReplaceAll(err.Error(), "\n", " "))
			} else {
				fmt.Print(body)
			}
		}
	} else {
		fmt.Fprintln(os.Stderr, "usage: gohttp serve ADDR ID | gohttp get URL [N]")
		os.Exit(2)
	}
}
