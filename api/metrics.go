package api

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"

	"rtchub/hub"
	"rtchub/store"
)

// Metrics serves the Prometheus text format, written by hand.
func Metrics(st *store.Store, h *hub.Hub, version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		put := func(name, typ, help string, v any) {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, typ, name, v)
		}
		stats := st.Stats()
		sm, hm := &st.Metrics, &h.Metrics
		fmt.Fprintf(&b, "# HELP rtchub_build_info Build information.\n# TYPE rtchub_build_info gauge\nrtchub_build_info{version=%s,goversion=%s} 1\n",
			strconv.Quote(version), strconv.Quote(runtime.Version()))
		put("rtchub_streams_open", "gauge", "Open event streams.", h.Open())
		put("rtchub_users_online", "gauge", "Users with at least one open stream.", h.UsersOnline())
		put("rtchub_users", "gauge", "Users.", stats.Users)
		put("rtchub_groups", "gauge", "Groups.", stats.Groups)
		put("rtchub_clients", "gauge", "Application clients.", stats.Clients)
		put("rtchub_messages_open", "gauge", "Messages with unacknowledged copies.", stats.OpenMessages)
		put("rtchub_pending_copies", "gauge", "Unacknowledged copies of messages, over all users.", stats.Pending)
		put("rtchub_messages_sent_total", "counter", "Messages committed (answered 202).", sm.Messages.Load())
		put("rtchub_acks_total", "counter", "Copies of messages acknowledged.", sm.Acks.Load())
		put("rtchub_streams_opened_total", "counter", "Event streams accepted.", hm.Opened.Load())
		put("rtchub_streams_cut_total", "counter", "Streams closed because the client read too slowly.", hm.Cut.Load())
		put("rtchub_events_delivered_total", "counter", "Message events written to streams.", hm.Delivered.Load())
		put("rtchub_pings_total", "counter", "Keep-alive comments queued on quiet streams.", hm.Pings.Load())
		put("rtchub_log_seq", "gauge", "Last seq in the log.", stats.Seq)
		put("rtchub_writes_refused_total", "counter", "Batches refused because the disk was full (answered 507).", sm.WritesRefused.Load())
		put("rtchub_log_appends_total", "counter", "Records appended to the log.", sm.Appends.Load())
		put("rtchub_log_batches_total", "counter", "Group commits (one write and sync each).", sm.Batches.Load())
		put("rtchub_log_bytes", "gauge", "Size of the log file.", sm.LogBytes.Load())
		put("rtchub_compactions_total", "counter", "Log compactions.", sm.Compactions.Load())
		put("rtchub_messages_expired_total", "counter", "Messages dropped when their ttl ran out.", stats.Expired)
		put("rtchub_copies_dropped_total", "counter", "Unacknowledged copies dropped by the per-user pending cap.", stats.Dropped)
		put("rtchub_copies_over_budget_total", "counter", "Unacknowledged copies dropped, oldest first, by the hub-wide budget of pending state.", stats.OverBudget)
		put("rtchub_pending_cost", "gauge", "Pending state in the budget's units (a copy, or 256 bytes of a payload).", stats.Cost)
		put("rtchub_pending_budget", "gauge", "The hub-wide budget of pending state (0: none).", st.Budget())
		put("go_goroutines", "gauge", "Goroutines that currently exist.", runtime.NumGoroutine())
		if n, err := openFDs(); err == nil {
			put("process_open_fds", "gauge", "Open file descriptors.", n)
		}
		if n, err := residentBytes(); err == nil {
			put("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", n)
		}
		b.WriteString("# HELP rtchub_fsync_seconds Latency of log syncs.\n# TYPE rtchub_fsync_seconds histogram\n")
		for i, le := range store.FsyncBuckets {
			fmt.Fprintf(&b, "rtchub_fsync_seconds_bucket{le=\"%g\"} %d\n", le, sm.FsyncBucket[i].Load())
		}
		n := sm.FsyncCount.Load()
		fmt.Fprintf(&b, "rtchub_fsync_seconds_bucket{le=\"+Inf\"} %d\n", n)
		fmt.Fprintf(&b, "rtchub_fsync_seconds_sum %g\nrtchub_fsync_seconds_count %d\n", float64(sm.FsyncSumNano.Load())/1e9, n)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		w.Write(b.Bytes())
	})
}

// openFDs counts the process's open files (Linux's /proc).
func openFDs() (int, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	return len(names) - 1, err // less the one reading the directory
}

// residentBytes is the process's RSS (Linux's /proc).
func residentBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("statm: %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()), err
}
