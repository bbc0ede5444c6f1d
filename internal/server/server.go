// Package server builds a running hub from a Config: the store and its
// signing key, the first application client, the hub of open streams, the
// handlers of both listeners and the admin socket. `rtchub serve`, the
// benchmarks' tests and the integration tests start hubs only through it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"rtchub/api"
	"rtchub/auth"
	"rtchub/hub"
	"rtchub/internal/admin"
	"rtchub/internal/httpx"
	"rtchub/sse"
	"rtchub/store"
)

// Server is a hub whose listeners are bound; Run serves them.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	hub    *hub.Hub
	signer *auth.Signer

	apiHandler http.Handler
	servers    []*http.Server
	listeners  []net.Listener
	fresh      freshConns
	admin      string // the admin socket's path, "" if there is none
}

// New opens the data directory (replaying the log), makes sure an
// application can get in, and binds both listeners and the admin socket.
// Nothing is served until Run. On error everything New opened is closed.
func New(ctx context.Context, cfg Config, log *slog.Logger) (_ *Server, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.API.MaxBody, cfg.SSE.MaxBody = cfg.MaxBody, cfg.MaxBody
	cfg.Store.Logger, cfg.Hub.Logger = log, log
	s := &Server{cfg: cfg, log: log, fresh: freshConns{m: map[net.Conn]struct{}{}}}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	if cfg.Store.MaxPendingTotal == 0 {
		if mem, src := MemoryLimit(); mem > 0 {
			cfg.Store.MaxPendingTotal = budgetFor(mem)
			log.Info("pending state budget sized from memory", "copies", cfg.Store.MaxPendingTotal, "memory_bytes", mem, "from", src)
		}
	}
	if s.store, err = store.Open(cfg.Store); err != nil {
		return nil, err
	}
	keyPath := filepath.Join(cfg.Store.Dir, store.KeyName)
	key, created, err := store.LoadOrCreateKey(keyPath, auth.KeySize)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created signing key", "file", keyPath)
	} else if store.KeyFileTooOpen(keyPath) {
		log.Warn("signing key is readable by other users; chmod 600 it", "file", keyPath)
	}
	if s.signer, err = auth.NewSigner(key); err != nil {
		return nil, err
	}
	if err := s.bootstrapClient(ctx); err != nil {
		return nil, err
	}

	s.hub = hub.New(cfg.Hub)
	ssrv := sse.New(sse.Config{Options: cfg.SSE, Store: s.store, Hub: s.hub, Signer: s.signer, Logger: log})
	events := api.NewEvents(s.store, s.hub, log)
	s.store.SetObserver(store.Observers{ssrv, events})
	s.hub.SetListener(events)
	var apiHandler http.Handler = api.New(api.Config{
		Options: cfg.API, Store: s.store, Hub: s.hub, Signer: s.signer, Logger: log,
		Metrics: api.Metrics(s.store, s.hub, cfg.Version), Events: events,
	})
	if cfg.Pprof {
		apiHandler = withPprof(apiHandler)
	}
	apiLn, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("api listener: %w", err)
	}
	apiHandler = httpx.HostCheck(apiHandler, cfg.APIHosts, !isLoopback(apiLn.Addr()))
	s.apiHandler = apiHandler
	s.add(apiLn, &http.Server{Handler: apiHandler, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: cfg.IdleTimeout})
	sseLn, err := net.Listen("tcp", cfg.SSEAddr)
	if err != nil {
		return nil, fmt.Errorf("sse listener: %w", err)
	}
	// No WriteTimeout: streams are hijacked and bounded by the hub's own
	// write deadlines.
	s.add(sseLn, &http.Server{Handler: ssrv.Handler(), ReadTimeout: 30 * time.Second, IdleTimeout: cfg.IdleTimeout})
	path := filepath.Join(cfg.Store.Dir, admin.SocketName)
	if ln, err := listenAdmin(path); err != nil {
		log.Warn("admin socket unavailable: client, backup and compact commands need the hub stopped", "err", err)
	} else {
		s.admin = path
		s.add(ln, &http.Server{Handler: admin.Handler(s.store, log, s.hub.CloseApp)})
	}
	return s, nil
}

func (s *Server) add(ln net.Listener, srv *http.Server) {
	srv.ReadHeaderTimeout = s.cfg.ReadHeaderTimeout
	srv.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	srv.ConnState = s.fresh.track
	s.listeners = append(s.listeners, ln)
	s.servers = append(s.servers, srv)
}

// APIAddr is the address the API listener is bound to.
func (s *Server) APIAddr() string { return s.listeners[0].Addr().String() }

// SSEAddr is the address the SSE listener is bound to.
func (s *Server) SSEAddr() string { return s.listeners[1].Addr().String() }

// Store is the hub's store.
func (s *Server) Store() *store.Store { return s.store }

// Hub holds the hub's open streams.
func (s *Server) Hub() *hub.Hub { return s.hub }

// APIHandler is the API listener's handler, for tests that call it
// in-process.
func (s *Server) APIHandler() http.Handler { return s.apiHandler }

// Signer signs the hub's tokens.
func (s *Server) Signer() *auth.Signer { return s.signer }

// Run serves until ctx is done or a listener fails, then shuts down: the
// listeners stop accepting, requests in flight finish, queued events are
// written, streams end cleanly and the log is synced and closed. Clients
// reconnect to the next hub and replay. It returns nil after a clean stop.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, len(s.servers))
	for i, srv := range s.servers {
		go func() { errc <- srv.Serve(s.listeners[i]) }()
	}
	tctx, stopTrim := context.WithCancel(ctx)
	defer stopTrim()
	go trimWhenQuiet(tctx, quietAfter, s.activity, s.trim)
	s.log.Info("rtchub ready", "version", s.cfg.Version, "api", s.APIAddr(), "sse", s.SSEAddr(),
		"data_dir", s.cfg.Store.Dir, "fsync", s.cfg.Store.Fsync.String())

	var serveErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down")
	case serveErr = <-errc:
		s.log.Error("listener failed", "err", serveErr)
	case <-s.store.Fatal():
		// Exiting non-zero is the way back: systemd restarts the hub
		// (Restart=on-failure) and replay reads what the disk holds.
		serveErr = fmt.Errorf("stopping: %w", s.store.Healthy())
		s.log.Error("the log cannot be trusted after an I/O error; stopping so that a restart replays it", "err", serveErr)
	}
	// Requests in flight get the whole grace; connections that never sent
	// one (Shutdown would wait for those) are closed at once.
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range s.servers {
		wg.Go(func() {
			if srv.Shutdown(sctx) != nil {
				srv.Close()
			}
		})
	}
	s.fresh.closeAll()
	wg.Wait()
	s.hub.Close(s.cfg.ShutdownTimeout / 2)
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("closing store: %w", err)
	}
	if s.admin != "" {
		os.Remove(s.admin)
	}
	s.log.Info("stopped")
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// closeAll undoes a New that failed part way.
func (s *Server) closeAll() {
	for _, ln := range s.listeners {
		ln.Close()
	}
	if s.admin != "" {
		os.Remove(s.admin)
	}
	if s.hub != nil {
		s.hub.Close(0)
	}
	if s.store != nil {
		s.store.Close()
	}
}

// bootstrapClient makes sure an application can get in: the client named
// by the configuration is created or updated; with no client at all, one
// is made and its secret logged once.
func (s *Server) bootstrapClient(ctx context.Context) error {
	if id, secret := s.cfg.Client.ID, s.cfg.Client.Secret; id != "" {
		if c, _, ok := s.store.Client(id); ok && auth.CheckSecret(c.Hash, secret) {
			return nil // already so: write nothing
		}
		if _, err := admin.AddClient(ctx, s.store, id, id, secret); err != nil {
			return fmt.Errorf("RTCHUB_CLIENT_ID: %w", err)
		}
		s.log.Info("application client set from the environment", "client_id", id)
		return nil
	}
	if len(s.store.Clients()) > 0 {
		return nil
	}
	c, err := admin.AddClient(ctx, s.store, "", "default", "")
	if err != nil {
		return err
	}
	s.log.Warn("created the first application client; its secret is shown only now",
		"client_id", c.ID, "client_secret", c.Secret)
	s.log.Info(`make more with "rtchub client add NAME"; list them with "rtchub client list"`)
	return nil
}

// isLoopback reports whether a listener takes connections on loopback
// only.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
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
