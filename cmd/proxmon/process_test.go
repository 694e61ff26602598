package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the binaries the tests build once per run: proxmon itself
// and, for the external-broker tests, nats-server.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "proxmon-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goBuild builds pkg into binDir/name once per test run; Go's build cache
// makes it quick after the first time on a machine.
func goBuild(tb testing.TB, name, pkg string) string {
	tb.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if b, ok := built[name]; ok {
		if b.err != nil {
			tb.Fatal(b.err)
		}
		return b.path
	}
	path := filepath.Join(binDir, name)
	out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	built[name] = builtBinary{path, err}
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

type builtBinary struct {
	path string
	err  error
}

var (
	builtMu sync.Mutex
	built   = map[string]builtBinary{}
)

// proxmonBinary is the real proxmon binary, for tests that kill it.
func proxmonBinary(tb testing.TB) string { return goBuild(tb, "proxmon", ".") }

// freePort returns a loopback TCP port that was free a moment ago, for
// servers that cannot listen on port 0 and report the port (mosquitto), or
// that must come back on the same port after a restart.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until something accepts TCP connections on addr.
func waitListening(tb testing.TB, addr string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("nothing listens on %s after %v: %v", addr, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// process is a child process whose output the test keeps.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // of Wait, once done is closed
}

// startProcess starts bin with args; its stdout and stderr are kept and
// shown when the test fails. The process is killed at the test's end if it
// still runs.
func startProcess(tb testing.TB, name, bin string, args ...string) *process {
	tb.Helper()
	p := &process{name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.kill()
		if tb.Failed() {
			tb.Logf("output of %s (%s):\n%s", name, strings.Join(args, " "), p.out.tail(8000))
		}
	})
	return p
}

// waitOutput waits until the process has written s, and fails if it exits
// first.
func (p *process) waitOutput(tb testing.TB, s string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !p.out.contains(s) {
		select {
		case <-p.done:
			tb.Fatalf("%s exited (%v) before writing %q:\n%s", p.name, p.err, s, p.out.tail(8000))
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not write %q within %v:\n%s", p.name, s, timeout, p.out.tail(8000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill sends SIGKILL, as a crash or the OOM killer would, and waits.
func (p *process) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and returns the exit error, or fails after timeout.
func (p *process) stop(tb testing.TB, timeout time.Duration) error {
	tb.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.kill()
		tb.Fatalf("%s did not stop within %v of SIGTERM:\n%s", p.name, timeout, p.out.tail(8000))
		return nil
	}
}

// syncBuffer is a bytes.Buffer for concurrent writers and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) contains(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Contains(b.b.Bytes(), []byte(s))
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// tail returns the last n bytes written.
func (b *syncBuffer) tail(n int) string {
	s := b.String()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
