package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type client struct {
	api   string
	host  string // host:port of api
	token string
	hc    *http.Client
}

func newClient(ctx context.Context, cfg Config) (*client, error) {
	u, err := url.Parse(cfg.API)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bench: --api %q is not a URL", cfg.API)
	}
	c := &client{api: strings.TrimRight(cfg.API, "/"), host: u.Host, hc: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0, DisableCompression: true},
		Timeout:   30 * time.Second,
	}}
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
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// poster sends POSTs over one keep-alive HTTP/1.1 connection.
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
	if p.conn == nil {
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			return err
		}
		p.conn, p.br = conn, bufio.NewReaderSize(conn, 4096)
	}
	p.req = append(p.req[:0], "POST "...)
	p.req = append(p.req, path...)
	p.req = append(p.req, " HTTP/1.1\r\nHost: "...)
	p.req = append(p.req, p.addr...)
	p.req = append(p.req, "\r\nAuthorization: "...)
	p.req = append(p.req, p.auth...)
	p.req = append(p.req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	p.req = strconv.AppendInt(p.req, int64(len(body)), 10)
	p.req = append(p.req, "\r\n\r\n"...)
	p.req = append(p.req, body...)
	p.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := p.conn.Write(p.req); err != nil {
		p.close()
		return err
	}
	status, err := p.br.ReadSlice('\n')
	if err != nil {
		p.close()
		return err
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
			return err
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
		return fmt.Errorf("POST %s: %d without Content-Length", path, code)
	}
	resp := make([]byte, length)
	if _, err := io.ReadFull(p.br, resp); err != nil {
		p.close()
		return err
	}
	if !keep {
		p.close()
	}
	if code < 200 || code > 299 {
		return fmt.Errorf("POST %s: %d %s", path, code, bytes.TrimSpace(resp))
	}
	return nil
}
