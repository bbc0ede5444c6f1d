package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"rtchub/api"
	"rtchub/auth"
	"rtchub/hub"
	"rtchub/sse"
	"rtchub/store"
)

const (
	keyName    = "signing.key"
	socketName = "admin.sock"
)

func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: want text or json", format)}
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("rtchub serve", flag.ContinueOnError)
	c.flags(fs)
	pos, err := parseFlags(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("serve takes no arguments, got %q", pos)}
	}
	log, err := newLogger(c.LogFormat, c.LogLevel, stderr)
	if err != nil {
		return err
	}
	mode, err := store.ParseFsyncMode(c.Fsync)
	if err != nil {
		return usageError{err.Error()}
	}
	origins := strings.Split(c.CORSOrigins, ",")
	for i := range origins {
		origins[i] = strings.TrimSpace(origins[i])
	}
	// Before the store: a refusal must leave the data directory as it was
	// (no signing key, no log), not half made.
	envc, err := clientFromEnv(getenv)
	if err != nil {
		return err
	}

	st, err := store.Open(store.Options{
		Dir: c.DataDir, Fsync: mode, FsyncInterval: c.FsyncEvery,
		MaxPending: c.MaxPending, KeepAcked: c.KeepAcked, CompactMin: c.CompactMin,
		Logger: log,
	})
	if err != nil {
		return err
	}
	defer st.Close()
	keyPath := filepath.Join(c.DataDir, keyName)
	key, created, err := auth.LoadOrCreateKey(keyPath)
	if err != nil {
		return err
	}
	if created {
		log.Info("created signing key", "file", keyPath)
	} else if auth.KeyFileTooOpen(keyPath) {
		log.Warn("signing key is readable by other users; chmod 600 it", "file", keyPath)
	}
	signer, err := auth.NewSigner(key)
	if err != nil {
		return err
	}
	if err := bootstrapClient(ctx, st, envc, log); err != nil {
		return err
	}

	h := hub.New(hub.Options{
		QueueLen: c.QueueLen, MaxStreams: c.MaxStreams, MaxPerUser: c.MaxStreamsUser,
		Heartbeat: c.Heartbeat, WriteTimeout: c.WriteTimeout, Logger: log,
	})
	ssrv := sse.New(sse.Config{Store: st, Hub: h, Signer: signer, Logger: log, Retry: c.Retry, CORSOrigins: origins, MaxBody: c.MaxBody})
	st.SetObserver(ssrv)
	apiHandler := api.New(api.Config{
		Store: st, Hub: h, Signer: signer, Logger: log,
		MaxBody: c.MaxBody, MaxMessage: c.MaxMessage,
		AccessTokenTTL: c.AccessTokenTTL, UserTokenTTL: c.UserTokenTTL, MaxUserTokenTTL: c.MaxUserTokenTTL,
		MessageTTL: c.MessageTTL, MaxMessageTTL: c.MaxMessageTTL,
		Metrics: api.Metrics(st, h, version),
	})

	if c.Pprof {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.Handle("/", apiHandler)
		apiHandler = mux
	}

	apiLn, err := net.Listen("tcp", c.APIAddr)
	if err != nil {
		return fmt.Errorf("api listener: %w", err)
	}
	sseLn, err := net.Listen("tcp", c.SSEAddr)
	if err != nil {
		apiLn.Close()
		return fmt.Errorf("sse listener: %w", err)
	}
	servers := []*http.Server{
		{Handler: apiHandler, ReadHeaderTimeout: c.ReadHeaderTimout, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: c.IdleTimeout},
		// No WriteTimeout: streams are hijacked and bounded by the hub's own
		// write deadlines.
		{Handler: ssrv.Handler(), ReadHeaderTimeout: c.ReadHeaderTimout, ReadTimeout: 30 * time.Second, IdleTimeout: c.IdleTimeout},
	}
	listeners := []net.Listener{apiLn, sseLn}
	if ln, err := listenAdmin(c.DataDir); err != nil {
		log.Warn("admin socket unavailable: client, backup and compact commands need the hub stopped", "err", err)
	} else {
		servers = append(servers, &http.Server{Handler: api.Admin(st, log, keyName), ReadHeaderTimeout: c.ReadHeaderTimout})
		listeners = append(listeners, ln)
	}
	errc := make(chan error, len(servers))
	fresh := &freshConns{m: map[net.Conn]struct{}{}}
	for i, srv := range servers {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
		srv.ConnState = fresh.track
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	log.Info("rtchub ready", "version", version, "api", apiLn.Addr().String(), "sse", sseLn.Addr().String(),
		"data_dir", c.DataDir, "fsync", mode.String())

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-errc:
		log.Error("listener failed", "err", serveErr)
	}
	// Stop accepting, let requests in flight finish, then end the streams
	// (clients reconnect to the next hub and replay), then close the log.
	// Requests in flight get the whole grace; connections that never sent
	// one (Shutdown would wait 5 s for those) are closed at once.
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(func() {
			if srv.Shutdown(sctx) != nil {
				srv.Close()
			}
		})
	}
	fresh.closeAll()
	wg.Wait()
	h.Close(c.ShutdownTimeout / 2)
	if err := st.Close(); err != nil {
		return fmt.Errorf("closing store: %w", err)
	}
	os.Remove(filepath.Join(c.DataDir, socketName))
	log.Info("stopped")
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// bootstrapClient makes sure an application can get in: the client named
// by the environment (see clientFromEnv) is created or updated; with no
// client at all, one is made and its secret printed once.
func bootstrapClient(ctx context.Context, st *store.Store, envc envClient, log *slog.Logger) error {
	if id, secret := envc.ID, envc.Secret; id != "" {
		if c, _, ok := st.Client(id); ok && auth.CheckSecret(c.Hash, secret) {
			return nil // already so: write nothing
		}
		if _, err := api.AddClient(ctx, st, id, id, secret); err != nil {
			return fmt.Errorf("RTCHUB_CLIENT_ID: %w", err)
		}
		log.Info("application client set from the environment", "client_id", id)
		return nil
	}
	if len(st.Clients()) > 0 {
		return nil
	}
	c, err := api.AddClient(ctx, st, "", "default", "")
	if err != nil {
		return err
	}
	log.Warn("created the first application client; its secret is shown only now",
		"client_id", c.ID, "client_secret", c.Secret)
	log.Info(`make more with "rtchub client add NAME"; list them with "rtchub client list"`)
	return nil
}

// listenAdmin opens the operator socket in the data directory, readable
// only by the hub's user.
func listenAdmin(dir string) (net.Listener, error) {
	path := filepath.Join(dir, socketName)
	os.Remove(path) // a stale socket of a hub that was killed; the dir lock says no hub runs
	old := syscallUmask(0o177)
	ln, err := net.Listen("unix", path)
	syscallUmask(old)
	return ln, err
}

// freshConns tracks connections that have not sent a request yet, so
// shutdown can close them instead of waiting for them.
type freshConns struct {
	mu sync.Mutex
	m  map[net.Conn]struct{}
}

func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == http.StateNew {
		f.m[c] = struct{}{}
	} else {
		delete(f.m, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.m {
		c.Close()
	}
}
