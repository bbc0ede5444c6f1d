package server

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The hub sizes its budget of pending state from the memory it may use:
// that way a flood nobody reads cannot grow it past the box (or the
// cgroup systemd runs it in), and the replay after a restart, which obeys
// the same budget, cannot either.
const (
	// pendingShare of the memory goes to pending state; the rest is for
	// streams, buffers, the Go runtime and garbage not yet collected.
	pendingShare = 0.4
	// bytesPerUnit is what one unit of the budget (a copy, or 256 bytes of
	// a payload) is allowed, with room for the garbage collector: a copy
	// costs about 64 bytes live.
	bytesPerUnit = 256
	// goMemShare of the memory is the Go runtime's soft limit: it
	// collects harder before the cgroup would kill.
	goMemShare = 0.75
)

// MemoryLimit returns the memory this process may use and where that
// figure comes from: the tightest limit of its memory cgroup and the
// cgroups above it (v2 memory.max, v1 memory.limit_in_bytes), else the
// machine's memory (MemTotal); 0 if it cannot tell.
func MemoryLimit() (int64, string) {
	if n, src := cgroupLimit(); n > 0 {
		return n, src
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 2 && fields[1] == "kB" {
				if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
					return kb << 10, "MemTotal"
				}
			}
		}
	}
	return 0, ""
}

// cgroupLimit reads the limits of the memory cgroups of this process.
func cgroupLimit() (int64, string) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, ""
	}
	best, src := int64(0), ""
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var root, file string
		switch {
		case parts[0] == "0" && parts[1] == "": // v2
			root, file = "/sys/fs/cgroup", "memory.max"
		case strings.Contains(","+parts[1]+",", ",memory,"): // v1
			root, file = "/sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		// From the process's cgroup up to the root: a slice above it may
		// set the limit.
		for dir := filepath.Join(root, parts[2]); ; dir = filepath.Dir(dir) {
			if n := readLimit(filepath.Join(dir, file)); n > 0 && (best == 0 || n < best) {
				best, src = n, filepath.Join(dir, file)
			}
			if dir == root || !strings.HasPrefix(dir, root) {
				break
			}
		}
	}
	return best, src
}

// readLimit reads a cgroup memory limit; 0 for none ("max", or v1's
// unlimited, which is near 2^63) or unreadable.
func readLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0
	}
	return n
}

// budgetFor is the budget of pending state for memory bytes.
func budgetFor(memory int64) int64 {
	return int64(float64(memory) * pendingShare / bytesPerUnit)
}

// GoMemoryLimit is the soft limit for the Go runtime given memory bytes
// (runtime/debug.SetMemoryLimit).
func GoMemoryLimit(memory int64) int64 { return int64(float64(memory) * goMemShare) }
