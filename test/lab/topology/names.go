package topology

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// prefixHead starts every name the lab makes.
const prefixHead = "cpl"

// PrefixFor is the name prefix of the lab run by process pid: "cpl", the pid
// in base 36, "-" (for example "cpl2n9c-"). It is short because Linux limits
// interface names to 15 bytes and the host namespace holds the prefixed
// management links.
func PrefixFor(pid int) string {
	return prefixHead + strconv.FormatInt(int64(pid), 36) + "-"
}

// ownerPID is the pid encoded in a name made with PrefixFor, and false for a
// name the lab did not make.
func ownerPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefixHead)
	if !ok {
		return 0, false
	}
	enc, _, ok := strings.Cut(rest, "-")
	if !ok || enc == "" || len(enc) > 6 {
		return 0, false
	}
	pid, err := strconv.ParseInt(enc, 36, 64)
	if err != nil || pid <= 0 || strconv.FormatInt(pid, 36) != enc {
		return 0, false
	}
	return int(pid), true
}

// leftovers are the names among names that a lab made whose owner is no
// longer running.
func leftovers(names []string, running func(pid int) bool) []string {
	var out []string
	for _, n := range names {
		if pid, ok := ownerPID(n); ok && !running(pid) {
			out = append(out, n)
		}
	}
	return out
}

// labProcessRunning reports whether pid is a running test binary (a go
// test executable ends in ".test"), so that a recycled pid of some other
// program does not keep a crashed lab's leftovers alive.
func labProcessRunning(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	arg0, _, _ := strings.Cut(string(b), "\x00")
	return strings.HasSuffix(arg0, ".test")
}
