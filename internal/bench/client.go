//go:build !rtchub_nobench

package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// client calls the API for setup and tear-down, on a few keep-alive
// connections of its own (net/http's Transport would add its weight to
// the hub's binary, which carries the bench).
type client struct {
	api   string
	host  string // host:port of api
	conns chan *poster

	mu      sync.Mutex
	token   string
	renewed time.Time
	id      string // credentials, to renew the token
	secret  string
}

// bearer is the Authorization value of the current access token.
func (c *client) bearer() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return "Bearer " + c.token
}

// renew gets a new access token when the one held is older than age: a
// run longer than the token's lifetime (the soak) keeps going.
func (c *client) renew(ctx context.Context, age time.Duration) error {
	c.mu.Lock()
	due := time.Since(c.renewed) > age
	c.mu.Unlock()
	if !due {
		return nil
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	p := &poster{addr: c.host}
	defer p.close()
	b, _ := json.Marshal(map[string]string{"client_id": c.id, "client_secret": c.secret})
	resp, err := p.do("POST", c.api+"/api/auth/token", b)
	if err == nil {
		err = json.Unmarshal(resp, &tok)
	}
	if err != nil {
		return fmt.Errorf("bench: renew access token: %w", err)
	}
	c.mu.Lock()
	c.token, c.renewed = tok.AccessToken, time.Now()
	c.mu.Unlock()
	return nil
}

// get returns the body of GET path.
func (c *client) get(ctx context.Context, path string) ([]byte, error) {
	p := &poster{addr: c.host, auth: c.bearer()}
	defer p.close()
	return p.do("GET", c.api+path, nil)
}

func newClient(ctx context.Context, cfg Config) (*client, error) {
	u, err := url.Parse(cfg.API)
	if err != nil || u.Host == "" || u.Scheme != "http" {
		return nil, fmt.Errorf("bench: --api %q is not an http:// URL", cfg.API)
	}
	c := &client{api: strings.TrimRight(u.Path, "/"), host: u.Host, conns: make(chan *poster, 64), id: cfg.ClientID, secret: cfg.ClientSecret}
	if err := c.renew(ctx, -1); err != nil {
		return nil, fmt.Errorf("%w (set RTCHUB_CLIENT_ID and RTCHUB_CLIENT_SECRET)", err)
	}
	return c, nil
}

func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	var p *poster
	select {
	case p = <-c.conns:
	default:
		p = &poster{addr: c.host}
	}
	p.auth = c.bearer()
	resp, err := p.do(method, c.api+path, b)
	select {
	case c.conns <- p:
	default:
		p.close()
	}
	if err != nil {
		return err
	}
	if out != nil {
		return json.Unmarshal(resp, out)
	}
	return nil
}

// poster sends requests over one keep-alive HTTP/1.1 connection.
type poster struct {
	addr, auth string
	conn       net.Conn
	br         *bufio.Reader
	req        []byte
}

func (p *poster) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// post sends body and reads the answer; any status but 2xx is an error.
func (p *poster) post(path string, body []byte) error {
	_, err := p.do("POST", path, body)
	return err
}

// do sends one request and returns the answer's body; any status but 2xx
// is an error.
func (p *poster) do(method, path string, body []byte) ([]byte, error) {
	if p.conn == nil {
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			return nil, err
		}
		p.conn, p.br = conn, bufio.NewReaderSize(conn, 4096)
	}
	p.req = append(p.req[:0], method...)
	p.req = append(p.req, ' ')
	p.req = append(p.req, path...)
	p.req = append(p.req, " HTTP/1.1\r\nHost: "...)
	p.req = append(p.req, p.addr...)
	if p.auth != "" {
		p.req = append(p.req, "\r\nAuthorization: "...)
		p.req = append(p.req, p.auth...)
	}
	if body != nil {
		p.req = append(p.req, "\r\nContent-Type: application/json"...)
	}
	p.req = append(p.req, "\r\nContent-Length: "...)
	p.req = strconv.AppendInt(p.req, int64(len(body)), 10)
	p.req = append(p.req, "\r\n\r\n"...)
	p.req = append(p.req, body...)
	p.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := p.conn.Write(p.req); err != nil {
		p.close()
		return nil, err
	}
	status, err := p.br.ReadSlice('\n')
	if err != nil {
		p.close()
		return nil, err
	}
	code := 0
	if len(status) >= 12 {
		code, _ = strconv.Atoi(string(status[9:12]))
	}
	length, keep := -1, true
	for {
		line, err := p.br.ReadSlice('\n')
		if err != nil {
			p.close()
			return nil, err
		}
		if len(line) <= 2 {
			break
		}
		k, v, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(v))
		case bytes.EqualFold(k, []byte("Connection")) && bytes.EqualFold(v, []byte("close")):
			keep = false
		}
	}
	if code == 204 || code == 304 {
		length = 0 // no body, whatever the headers say
	}
	if length < 0 {
		p.close()
		return nil, fmt.Errorf("%s %s: %d without Content-Length", method, path, code)
	}
	resp := make([]byte, length)
	if _, err := io.ReadFull(p.br, resp); err != nil {
		p.close()
		return nil, err
	}
	if !keep {
		p.close()
	}
	if code < 200 || code > 299 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, code, bytes.TrimSpace(resp))
	}
	return resp, nil
}
