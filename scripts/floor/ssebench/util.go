package main

import (
	"context"
	"strings"
	"sync"
	"time"
)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func secs(d time.Duration) float64 {
	return float64(d.Milliseconds()) / 1000
}

func mergeVars(a, b map[string]string) map[string]string {
	for k, v := range b {
		if _, ok := a[k]; !ok {
			a[k] = v
		}
	}
	return a
}

func trimErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "127.0.0.1") {
		s = s[i+2:]
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
	}
}
