package httpx

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// stdTime is what AppendTime must append.
func stdTime(ms int64) string {
	return string(time.UnixMilli(ms).UTC().AppendFormat(nil, TimeFormat))
}

func TestAppendTime(t *testing.T) {
	day := int64(24 * 60 * 60 * 1000)
	for _, c := range []struct {
		name string
		ms   int64
		want string // "" means as time.AppendFormat
	}{
		{"epoch", 0, "1970-01-01T00:00:00.000Z"},
		{"a recent time", 1795589058503, ""},
		{"leap day 2000", time.Date(2000, 2, 29, 23, 59, 59, 999e6, time.UTC).UnixMilli(), "2000-02-29T23:59:59.999Z"},
		{"no leap day 2100", time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), "2100-03-01T00:00:00.000Z"},
		{"end of a year", time.Date(2026, 12, 31, 23, 59, 59, 1e6, time.UTC).UnixMilli(), "2026-12-31T23:59:59.001Z"},
		{"last fast millisecond", fastTimeMax, "9999-12-31T23:59:59.999Z"},
		{"first slow millisecond", fastTimeMax + 1, ""},
		{"before the epoch", -1, "1969-12-31T23:59:59.999Z"},
		{"far before", -400 * 365 * day, ""},
		{"min", math.MinInt64, ""},
		{"max", math.MaxInt64, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if want == "" {
				want = stdTime(c.ms)
			} else if s := stdTime(c.ms); s != want {
				t.Fatalf("table is wrong: time formats %d as %s", c.ms, s)
			}
			if got := string(AppendTime([]byte("x"), c.ms)); got != "x"+want {
				t.Errorf("AppendTime(%d) = %q, want %q", c.ms, got, "x"+want)
			}
		})
	}
}

// TestAppendTimeEveryDay walks every day from 1970 through 2400 (a full
// 400-year cycle of leap rules), at a different time of day each, then
// every 97th day on to 9999.
func TestAppendTimeEveryDay(t *testing.T) {
	day := int64(24 * 60 * 60 * 1000)
	cycle := time.Date(2401, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	rng := rand.New(rand.NewPCG(1, 2))
	for ms := int64(0); ms <= fastTimeMax; ms += day {
		if ms > cycle {
			ms += 96 * day
		}
		v := min(ms+rng.Int64N(day), fastTimeMax)
		if got, want := string(AppendTime(nil, v)), stdTime(v); got != want {
			t.Fatalf("AppendTime(%d) = %q, want %q", v, got, want)
		}
	}
}

func FuzzAppendTime(f *testing.F) {
	for _, ms := range []int64{0, -1, 1795589058503, fastTimeMax, fastTimeMax + 1, math.MinInt64} {
		f.Add(ms)
	}
	f.Fuzz(func(t *testing.T, ms int64) {
		if got, want := string(AppendTime(nil, ms)), stdTime(ms); got != want {
			t.Fatalf("AppendTime(%d) = %q, want %q", ms, got, want)
		}
	})
}

func BenchmarkAppendTime(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.Run("AppendTime", func(b *testing.B) {
		for i := range b.N {
			buf = AppendTime(buf[:0], 1795589058503+int64(i))
		}
	})
	b.Run("time.AppendFormat", func(b *testing.B) {
		for i := range b.N {
			buf = time.UnixMilli(1795589058503+int64(i)).UTC().AppendFormat(buf[:0], TimeFormat)
		}
	})
}
