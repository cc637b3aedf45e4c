// gocgo — a Go program whose socket calls go through libc (cgo), as a Go
// program's name lookups may: portshim's library, loaded into it, must
// stay off, or the seccomp supervisor would see the library's calls and
// translate them a second time.
//
//	gocgo PORT   bind 127.0.0.1:PORT through libc; print "BOUND <port getsockname reports>"
package main

/*
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static int bind_port(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
		return -1;
	socklen_t l = sizeof a;
	if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return -1;
	return ntohs(a.sin_port);
}
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	port, err := strconv.Atoi(os.Args[len(os.Args)-1])
	if len(os.Args) != 2 || err != nil {
		fmt.Fprintln(os.Stderr, "usage: gocgo PORT")
		os.Exit(2)
	}
	got := C.bind_port(C.int(port))
	if got < 0 {
		fmt.Println("ERR")
		os.Exit(1)
	}
	fmt.Println("BOUND", got)
}
