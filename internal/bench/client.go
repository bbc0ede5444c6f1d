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
	"time"
)

// client calls the API for setup and tear-down, on a few keep-alive
// connections of its own (net/http's Transport would add its weight to
// the hub's binary, which carries the bench).
type client struct {
	api   string
	host  string // host:port of api
	token string
	conns chan *poster
}

func newClient(ctx context.Context, cfg Config) (*client, error) {
	u, err := url.Parse(cfg.API)
	if err != nil || u.Host == "" || u.Scheme != "http" {
		return nil, fmt.Errorf("bench: --api %q is not an http:// URL", cfg.API)
	}
	c := &client{api: strings.TrimRight(u.Path, "/"), host: u.Host, conns: make(chan *poster, 64)}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.call(ctx, "POST", "/api/auth/token", map[string]string{"client_id": cfg.ClientID, "client_secret": cfg.ClientSecret}, &tok); err != nil {
		return nil, fmt.Errorf("bench: get access token (set RTCHUB_CLIENT_ID and RTCHUB_CLIENT_SECRET): %w", err)
	}
	c.token = tok.AccessToken
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
	if c.token != "" {
		p.auth = "Bearer " + c.token
	}
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
