package api_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	promName   = `[a-zA-Z_:][a-zA-Z0-9_:]*`
	promLabel  = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"`
	promSample = regexp.MustCompile(`^(` + promName + `)(\{(?:` + promLabel + `(?:,` + promLabel + `)*,?)?\})? ([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|NaN|Inf))( -?[0-9]+)?$`)
	promHelp   = regexp.MustCompile(`^# HELP (` + promName + `) .+$`)
	promType   = regexp.MustCompile(`^# TYPE (` + promName + `) (counter|gauge|histogram|summary|untyped)$`)
)

// parseProm checks the Prometheus text format and returns the samples.
func parseProm(t *testing.T, text string) map[string]float64 {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Errorf("exposition does not end with a newline")
	}
	types := map[string]string{}
	helped := map[string]bool{}
	sampled := map[string]bool{}
	out := map[string]float64{}
	family := func(name string) string {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && types[base] == "histogram" {
				return base
			}
		}
		return name
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		switch {
		case line == "":
			t.Errorf("line %d: empty line", i+1)
		case strings.HasPrefix(line, "# HELP "):
			m := promHelp.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("line %d: bad HELP: %q", i+1, line)
				continue
			}
			if helped[m[1]] || sampled[m[1]] {
				t.Errorf("line %d: HELP for %s repeated or after its samples", i+1, m[1])
			}
			helped[m[1]] = true
		case strings.HasPrefix(line, "# TYPE "):
			m := promType.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("line %d: bad TYPE: %q", i+1, line)
				continue
			}
			if _, dup := types[m[1]]; dup || sampled[m[1]] {
				t.Errorf("line %d: TYPE for %s repeated or after its samples", i+1, m[1])
			}
			types[m[1]] = m[2]
		case strings.HasPrefix(line, "#"):
		default:
			m := promSample.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("line %d: not `name{labels} value`: %q", i+1, line)
				continue
			}
			fam := family(m[1])
			if types[fam] == "" || !helped[fam] {
				t.Errorf("line %d: sample of %s before its HELP and TYPE", i+1, fam)
			}
			sampled[fam] = true
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				t.Errorf("line %d: value %q: %v", i+1, m[3], err)
			}
			out[m[1]+m[2]] = v
		}
	}
	return out
}

func TestMetricsPrometheusText(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.st.PutUser(ctx, "u1", nil)
	e.st.PutGroup(ctx, "g1", []string{"u1"})
	r := e.do("POST", "/api/message/notify", `{"users":["u1"],"message":{"x":1}}`)
	e.mustStatus(r, 202, "notify")

	r = e.do("GET", "/metrics", "", "Authorization", "")
	e.mustStatus(r, 200, "GET /metrics without a token")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(ct, "version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	samples := parseProm(t, string(r.Body))
	for name, want := range map[string]float64{
		"rtchub_users":             1,
		"rtchub_groups":            1,
		"rtchub_clients":           1,
		"rtchub_messages_open":     1,
		"rtchub_pending_copies":    1,
		"rtchub_streams_open":      0,
		"rtchub_log_seq":           float64(e.st.Stats().Seq),
		"rtchub_log_appends_total": 3, // the client was in the log before (testkit seeds it)
	} {
		if got, ok := samples[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"rtchub_streams_opened_total", "rtchub_streams_cut_total", "rtchub_events_delivered_total", "rtchub_pings_total", "rtchub_log_bytes", "rtchub_fsync_seconds_sum", "rtchub_fsync_seconds_count"} {
		if _, ok := samples[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	if samples["rtchub_log_bytes"] <= 0 {
		t.Errorf("rtchub_log_bytes = %v", samples["rtchub_log_bytes"])
	}
	// The histogram's buckets are cumulative and end at +Inf == _count.
	prev := -1.0
	n := 0
	for k := range samples {
		if strings.HasPrefix(k, "rtchub_fsync_seconds_bucket") {
			n++
		}
	}
	if n < 2 {
		t.Fatalf("fsync histogram has %d buckets", n)
	}
	for _, line := range strings.Split(string(r.Body), "\n") {
		if strings.HasPrefix(line, "rtchub_fsync_seconds_bucket") {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("bucket %q: %v", line, err)
			}
			if v < prev {
				t.Errorf("bucket %q below the previous one (%v)", line, prev)
			}
			prev = v
		}
	}
	if inf := samples[`rtchub_fsync_seconds_bucket{le="+Inf"}`]; inf != samples["rtchub_fsync_seconds_count"] {
		t.Errorf("+Inf bucket %v != count %v", inf, samples["rtchub_fsync_seconds_count"])
	}
	if !strings.Contains(string(r.Body), `rtchub_build_info{version="test",`) {
		t.Errorf("build info lacks the version: %q", r.Body)
	}
}
