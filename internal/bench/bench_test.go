package bench_test

import (
	"context"
	"testing"
	"time"

	"rtchub/internal/bench"
	"rtchub/internal/server"
	"rtchub/internal/testkit"
	"rtchub/store"
)

// startHub runs a real hub on loopback, as `rtchub serve` starts one.
func startHub(t *testing.T) (apiURL, sseURL string) {
	t.Helper()
	h := testkit.StartHub(t, t.TempDir(), func(c *server.Config) {
		c.Store.Fsync, c.Store.CompactMin = store.FsyncNever, -1
	})
	return h.API, h.SSE
}

func TestRun(t *testing.T) {
	apiURL, sseURL := startHub(t)
	tests := []struct {
		name string
		cfg  bench.Config
		want int64 // expected events
	}{
		{"broadcast", bench.Config{Scenario: "broadcast", Streams: 5, Notifies: 40, Publishers: 4}, 200},
		{"broadcast at a rate, with a stalled reader", bench.Config{Scenario: "broadcast", Streams: 3, Notifies: 20, Rate: 200, Stalled: 1}, 60},
		{"unicast", bench.Config{Scenario: "unicast", Streams: 4, Notifies: 40, Publishers: 4}, 40},
		{"idle", bench.Config{Scenario: "idle", Streams: 3, Hold: 50 * time.Millisecond}, 0},
		{"ack", bench.Config{Scenario: "ack", Streams: 3, Notifies: 30, Publishers: 2}, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.API, cfg.SSE, cfg.ClientID, cfg.ClientSecret = apiURL, sseURL, testkit.ClientID, testkit.ClientSecret
			cfg.Timeout, cfg.Settle = 30*time.Second, 5*time.Second
			res, err := bench.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.NotifyErrors != 0 || res.Lost != 0 || res.Duplicated != 0 {
				t.Fatalf("errors %d, lost %d, duplicated %d (%s)", res.NotifyErrors, res.Lost, res.Duplicated, res.FirstError)
			}
			if cfg.Scenario == "idle" && res.Notifies != 0 {
				t.Errorf("an idle run reports %d notifies", res.Notifies)
			}
			if res.Expected != tt.want || res.Delivered != tt.want {
				t.Fatalf("expected %d and delivered %d events, want %d", res.Expected, res.Delivered, tt.want)
			}
			if tt.want > 0 && (res.LatP50 <= 0 || res.LatMax < res.LatP99 || res.LatP99 < res.LatP50) {
				t.Fatalf("latencies p50 %v p99 %v max %v", res.LatP50, res.LatP99, res.LatMax)
			}
			if cfg.Scenario == "ack" && (res.AcksSent != 30 || res.AcksSeen != 30 || res.AckErrors != 0 || res.AckLatP50 <= 0 || res.AckLatMax < res.AckLatP99) {
				t.Fatalf("acks sent %d, seen %d, errors %d (%s), p50 %v p99 %v max %v", res.AcksSent, res.AcksSeen, res.AckErrors, res.FirstError, res.AckLatP50, res.AckLatP99, res.AckLatMax)
			}
		})
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	for _, cfg := range []bench.Config{
		{Scenario: "fanfare", Streams: 1},
		{Scenario: "idle", Streams: 0},
		{Scenario: "idle", Streams: 1, API: "http://127.0.0.1:1"}, // nothing listens
	} {
		if _, err := bench.Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) succeeded", cfg)
		}
	}
}

// The soak: streams that acknowledge and reconnect with Last-Event-ID lose
// nothing and get nothing twice, and the hub is sampled as it goes.
func TestSoak(t *testing.T) {
	apiURL, sseURL := startHub(t)
	cfg := bench.Config{
		API: apiURL, SSE: sseURL, ClientID: testkit.ClientID, ClientSecret: testkit.ClientSecret,
		Scenario: "soak", Streams: 5, Rate: 50, Publishers: 2, Duration: 4 * time.Second, Sample: time.Second,
		Settle: 5 * time.Second,
	}
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.NotifyErrors != 0 || res.Lost != 0 || res.Duplicated != 0 || res.AckErrors != 0 {
		t.Fatalf("notify errors %d, lost %d, duplicated %d, ack errors %d (%s)", res.NotifyErrors, res.Lost, res.Duplicated, res.AckErrors, res.FirstError)
	}
	// 200 notifies in 4 s, 4 of them to the group of 5.
	if res.NotifyOK < 150 || res.Expected != int64(res.NotifyOK)+4*int64((res.NotifyOK+49)/50) || res.Delivered < res.Expected {
		t.Fatalf("%d notifies, expected %d events, delivered %d", res.NotifyOK, res.Expected, res.Delivered)
	}
	if res.AcksSent < res.Expected/2 {
		t.Errorf("%d acks sent for %d events", res.AcksSent, res.Expected)
	}
	if res.Reconnects < 2 {
		t.Errorf("%d reconnects in a 4 s soak (one a second)", res.Reconnects)
	}
	if len(res.Samples) < 4 {
		t.Fatalf("%d samples, want one a second and a last one", len(res.Samples))
	}
	last := res.Samples[len(res.Samples)-1]
	if last.Goroutines <= 0 || last.FDs <= 0 || last.RSSKB <= 0 || last.LogBytes <= 0 || last.Notifies != int64(res.NotifyOK) {
		t.Errorf("last sample %+v", last)
	}
}
