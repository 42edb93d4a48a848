package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// process is a child process with its log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// startProcess runs bin with args, its output appended to dir/logs/name.log.
// The child is in its own process group and is killed with it.
func startProcess(dir, name, bin string, args []string, env []string) (*process, error) {
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "\n=== %s %s %v\n", time.Now().Format(time.RFC3339), bin, args)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// running reports whether the process has not exited.
func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	if !p.running() {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// kill is kill -9 of the process group: no chance to clean up.
func (p *process) kill() {
	if p.running() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// exitError explains why a process ended, with the tail of its log.
func (p *process) exitError() error {
	return fmt.Errorf("%s exited (%v); see %s:\n%s", p.name, p.err, p.logPath, tail(p.logPath, 15))
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	n := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n++
			if n > lines {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

var portMu sync.Mutex
var handedOut = map[int]bool{}

// FreePort returns a loopback port nothing listens on now, never the same
// twice in one process.
func FreePort() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut[port] {
			handedOut[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no free loopback port")
}

// waitFor polls check until it returns nil, the process dies, or ctx ends.
func waitFor(ctx context.Context, p *process, what string, check func() error) error {
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		if p != nil && !p.running() {
			return p.exitError()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready: %v", what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Until polls cond every 200 ms until it holds, and fails with what and
// cond's last error once timeout has passed.
func Until(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s (last error: %v)", what, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Process is a child process run the way this package runs its own (own
// process group, killed with the test, output in dir/logs/NAME.log), for
// harnesses that start other binaries, such as the packet lab's kube-proxies.
type Process struct{ p *process }

// StartProcess runs bin with args (and env, NAME=value, added to this
// process's environment), its output appended to dir/logs/name.log.
func StartProcess(dir, name, bin string, args, env []string) (*Process, error) {
	p, err := startProcess(dir, name, bin, args, env)
	if err != nil {
		return nil, err
	}
	return &Process{p: p}, nil
}

// WaitReady polls check until it returns nil, and fails early, with the
// tail of the log, when the process exits.
func (p *Process) WaitReady(ctx context.Context, check func() error) error {
	return waitFor(ctx, p.p, p.p.name, check)
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *Process) Stop(grace time.Duration) { p.p.stop(grace) }

// Running reports whether the process has not exited.
func (p *Process) Running() bool { return p.p.running() }

// LogPath is the process's log file.
func (p *Process) LogPath() string { return p.p.logPath }
