// gobench — the TCP workloads of `make bench` (tests/bench/gobench), written
// in Go: under `portshim run` every socket call of a Go program goes through
// the seccomp supervisor, and this measures what that costs.
//
//	gobench rtt  PORT N    ping-pong 1 byte N times over one connection -> ns per round trip
//	gobench bulk PORT MIB  send MIB MiB one way over one connection -> MiB per second
//	gobench cce  PORT N    N connections: connect, 16 bytes echoed, close -> ns per connection
//	gobench blc  PORT N    listen on PORT and close, N times -> ns per iteration
//
// The server (rtt, bulk, cce) is this program started again as
// "gobench serve WORKLOAD PORT", a child process, so a connect crosses
// processes as in a real suite. PORT is hard-coded as a suite would; run
// bare and found in use, the next free one is taken before the timed part.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

func die(what string, err error) {
	fmt.Fprintf(os.Stderr, "gobench: %s: %v\n", what, err)
	os.Exit(1)
}

func listen(port int) (net.Listener, int) {
	for p := port; p < port+100; p++ {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			return l, p
		}
	}
	die("listen", fmt.Errorf("no free port from %d", port))
	return nil, 0
}

func serve(work string, port int) {
	l, p := listen(port)
	fmt.Println("READY", p)
	for {
		c, err := l.Accept()
		if err != nil {
			die("accept", err)
		}
		switch work {
		case "rtt":
			go func() { io.Copy(c, c); c.Close() }()
		case "bulk":
			go func() {
				n, _ := io.Copy(io.Discard, c)
				c.Write([]byte{byte(n)})
				c.Close()
			}()
		case "cce":
			buf := make([]byte, 16)
			if _, err := io.ReadFull(c, buf); err == nil {
				c.Write(buf)
			}
			c.Close()
		}
	}
}

// server starts "gobench serve WORK PORT" and returns the port it listens on.
func server(work string, port int) (*exec.Cmd, int) {
	cmd := exec.Command(os.Args[0], "serve", work, strconv.Itoa(port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		die("pipe", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		die("start server", err)
	}
	var p int
	if _, err := fmt.Fscanf(bufio.NewReader(out), "READY %d\n", &p); err != nil {
		die("server", err)
	}
	return cmd, p
}

func dial(port int) net.Conn {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		die("dial", err)
	}
	return c
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "serve" {
		port, _ := strconv.Atoi(os.Args[3])
		serve(os.Args[2], port)
		return
	}
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: gobench rtt|bulk|cce|blc PORT N")
		os.Exit(2)
	}
	work := os.Args[1]
	port, err1 := strconv.Atoi(os.Args[2])
	n, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "gobench: PORT and N are positive numbers")
		os.Exit(2)
	}
	if work == "blc" {
		l, p := listen(port) // untimed: finds the port
		l.Close()
		t := time.Now()
		for i := 0; i < n; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				die("listen", err)
			}
			l.Close()
		}
		fmt.Printf("%.1f\n", float64(time.Since(t).Nanoseconds())/float64(n))
		return
	}
	srv, p := server(work, port)
	defer srv.Process.Kill()
	switch work {
	case "rtt":
		c := dial(p)
		b := []byte{1}
		for i := 0; i < 100; i++ { // warm-up
			c.Write(b)
			io.ReadFull(c, b)
		}
		t := time.Now()
		for i := 0; i < n; i++ {
			if _, err := c.Write(b); err != nil {
				die("write", err)
			}
			if _, err := io.ReadFull(c, b); err != nil {
				die("read", err)
			}
		}
		fmt.Printf("%.1f\n", float64(time.Since(t).Nanoseconds())/float64(n))
	case "bulk":
		c := dial(p)
		buf := make([]byte, 1<<20)
		t := time.Now()
		for i := 0; i < n; i++ {
			if _, err := c.Write(buf); err != nil {
				die("write", err)
			}
		}
		c.(*net.TCPConn).CloseWrite()
		io.ReadFull(c, buf[:1])
		fmt.Printf("%.1f\n", float64(n)/time.Since(t).Seconds())
	case "cce":
		once := func() {
			c := dial(p)
			buf := []byte("0123456789abcdef")
			c.Write(buf)
			if _, err := io.ReadFull(c, buf); err != nil {
				die("read", err)
			}
			c.Close()
		}
		for i := 0; i < 50; i++ {
			once()
		}
		t := time.Now()
		for i := 0; i < n; i++ {
			once()
		}
		fmt.Printf("%.1f\n", float64(time.Since(t).Nanoseconds())/float64(n))
	default:
		fmt.Fprintln(os.Stderr, "gobench: unknown workload", work)
		os.Exit(2)
	}
}
