package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
	"rtchub/store"
)

func exchange(t testing.TB, h *served, id, secret string) testkit.Resp {
	t.Helper()
	return testkit.Request(t, "POST", h.API+"/api/auth/token", map[string]string{"client_id": id, "client_secret": secret}, nil)
}

// TestClientCommands: the first start with no credentials prints a client
// once; `rtchub client add/list/remove` work against a running hub; removing
// a client ends its access tokens; environment twins of flags apply and
// flags win.
func TestClientCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{
		"RTCHUB_CLIENT_ID": "", "RTCHUB_CLIENT_SECRET": "",
		"RTCHUB_RETRY":    "1700ms",      // env twin of --retry
		"RTCHUB_API_ADDR": "256.0.0.1:1", // the --api-addr flag must win
	}
	h := startServe(t, dir, env)

	m := regexp.MustCompile(`client_id=(\S+) client_secret=(\S+)`).FindStringSubmatch(h.Log.String())
	if m == nil {
		t.Fatalf("first start with no client: no client_id/client_secret in the log:\n%s", h.Log.String())
	}
	if !strings.Contains(h.Log.String(), "rtchub client add") {
		t.Errorf("first start: the log does not say how to make more clients")
	}
	id1, secret1 := m[1], m[2]
	r := exchange(t, h, id1, secret1)
	if r.Status != 200 {
		t.Fatalf("token with the printed credentials: %v", r)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	testkit.MustJSON(t, r.Body, &tok)
	h.UseAccessToken(tok.AccessToken)

	if fi, err := os.Stat(filepath.Join(dir, "signing.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("signing key: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}

	// The env twin of --retry applies.
	h.PutUser(t, "u")
	c := testkit.DialSSE(t, h.SSE, h.UserToken(t, "u", ""))
	if it := c.NextItem(t, testkit.Guard); it.Kind != testkit.KindRetry || it.Retry != 1700 {
		t.Errorf("first item %+v, want retry: 1700 from RTCHUB_RETRY", it)
	}

	// client add, list, remove against the running hub.
	// The order `rtchub client` documents in its usage line:
	// "rtchub client add NAME | list | remove ID  [--data-dir DIR]".
	t.Run("documented order: client add NAME --data-dir DIR", func(t *testing.T) {
		out, err := runCmd(t, "client", "add", "third", "--data-dir", dir)
		if err != nil {
			t.Errorf("rtchub client add third --data-dir DIR: %v: %q", err, out)
			return
		}
		id := regexp.MustCompile(`client_id=(\S+)`).FindStringSubmatch(out)
		if id == nil {
			t.Fatalf("client add printed %q", out)
		}
		if out, err := runCmd(t, "client", "remove", id[1], "--data-dir", dir); err != nil {
			t.Errorf("rtchub client remove ID --data-dir DIR: %v: %q", err, out)
		}
	})

	t.Run("flag before the verb: client --data-dir DIR add NAME", func(t *testing.T) {
		out, err := runCmd(t, "client", "--data-dir", dir, "add", "fourth")
		id := regexp.MustCompile(`client_id=(\S+)`).FindStringSubmatch(out)
		if err != nil || id == nil {
			t.Fatalf("rtchub client --data-dir DIR add fourth: %v: %q", err, out)
		}
		if out, err := runCmd(t, "client", "--data-dir", dir, "remove", id[1]); err != nil {
			t.Errorf("rtchub client --data-dir DIR remove ID: %v: %q", err, out)
		}
	})

	out, err := runCmd(t, "client", "add", "--data-dir", dir, "second")
	if err != nil {
		t.Fatalf("client add: %v: %s", err, out)
	}
	m = regexp.MustCompile(`(?m)^client_id=(\S+)\nclient_secret=(\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("client add printed %q", out)
	}
	id2, secret2 := m[1], m[2]
	r = exchange(t, h, id2, secret2)
	if r.Status != 200 {
		t.Fatalf("token of the added client: %v", r)
	}
	var tok2 struct {
		AccessToken string `json:"access_token"`
	}
	testkit.MustJSON(t, r.Body, &tok2)
	if r := testkit.Request(t, "GET", h.API+"/api/user", nil, testkit.Bearer(tok2.AccessToken)); r.Status != 200 {
		t.Errorf("added client's token: %v", r)
	}
	out, err = runCmd(t, "client", "list", "--data-dir", dir)
	if err != nil || !strings.Contains(out, id1) || !strings.Contains(out, id2) || !strings.Contains(out, "second") {
		t.Errorf("client list: %v: %q, want both clients", err, out)
	}
	if out, err := runCmd(t, "client", "remove", "--data-dir", dir, id2); err != nil {
		t.Fatalf("client remove: %v: %s", err, out)
	}
	testkit.WantError(t, "access token of a removed client", testkit.Request(t, "GET", h.API+"/api/user", nil, testkit.Bearer(tok2.AccessToken)), 401, "")
	if r := testkit.Request(t, "GET", h.API+"/api/user", nil, testkit.Bearer(tok.AccessToken)); r.Status != 200 {
		t.Errorf("the other client's token after a removal: %v", r)
	}
	if out, err := runCmd(t, "client", "remove", "--data-dir", dir, "no-such-client"); err == nil {
		t.Errorf("client remove of an unknown client succeeded: %q", out)
	}
	h.stop(t)

	// Secrets are stored only as hashes.
	if b, err := os.ReadFile(filepath.Join(dir, "rtchub.log")); err != nil {
		t.Error(err)
	} else if bytes.Contains(b, []byte(secret1)) || bytes.Contains(b, []byte(secret2)) {
		t.Errorf("a client secret is in the log in clear text")
	}

	// The secret is printed once: not again at the next start. The removed
	// client's token stays dead, the other one lives.
	h2 := startServe(t, dir, env)
	if strings.Contains(h2.Log.String(), "client_secret") {
		t.Errorf("second start printed a client secret again:\n%s", h2.Log.String())
	}
	if r := testkit.Request(t, "GET", h2.API+"/api/user", nil, testkit.Bearer(tok.AccessToken)); r.Status != 200 {
		t.Errorf("access token after restart: %v", r)
	}
	testkit.WantError(t, "removed client's token after restart", testkit.Request(t, "GET", h2.API+"/api/user", nil, testkit.Bearer(tok2.AccessToken)), 401, "")
	h2.stop(t)

	if out, err := runCmd(t, "version"); err != nil || !strings.HasPrefix(out, "rtchub ") {
		t.Errorf("rtchub version: %v %q", err, out)
	}
}

// TestClientNameFollowsIDRule: NAME is held to the id rule, as README says,
// so a name with a space is a usage error and changes nothing.
func TestClientNameFollowsIDRule(t *testing.T) {
	t.Parallel()
	dir := servedDir(t)
	out, err := runCmd(t, "client", "add", "my app", "--data-dir", dir)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "letters, digits") {
		t.Fatalf(`client add "my app": %v (exit %d): %q, want a usage error (exit 2) stating the id rule`, err, exitCode(err), out)
	}
	if list, err := runCmd(t, "client", "list", "--data-dir", dir); err != nil || strings.Contains(list, "my app") {
		t.Errorf("client list after the refusal: %v: %q", err, list)
	}
	if out, err := runCmd(t, "client", "add", "my-app", "--data-dir", dir); err != nil || !strings.Contains(out, "client_id=") {
		t.Errorf("client add my-app: %v: %q", err, out)
	}
}

// TestServeRefusesHalfAClientBeforeTouchingTheDataDir: RTCHUB_CLIENT_ID
// without a secret (or a secret without an id) is refused with exit 2
// before anything is created in the data directory.
func TestServeRefusesHalfAClientBeforeTouchingTheDataDir(t *testing.T) {
	t.Parallel()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("a-secret-from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		exit int
	}{
		{"id without a secret", map[string]string{"RTCHUB_CLIENT_ID": "app", "RTCHUB_CLIENT_SECRET": ""}, 2},
		{"secret without an id", map[string]string{"RTCHUB_CLIENT_ID": "", "RTCHUB_CLIENT_SECRET": "s3cret"}, 2},
		{"secret file without an id", map[string]string{"RTCHUB_CLIENT_ID": "", "RTCHUB_CLIENT_SECRET": "", "RTCHUB_CLIENT_SECRET_FILE": secretFile}, 2},
		{"an id that breaks the id rule", map[string]string{"RTCHUB_CLIENT_ID": "bad id", "RTCHUB_CLIENT_SECRET": "s3cret-s3cret"}, 2},
		{"id with a missing secret file", map[string]string{"RTCHUB_CLIENT_ID": "app", "RTCHUB_CLIENT_SECRET": "", "RTCHUB_CLIENT_SECRET_FILE": secretFile + ".missing"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			empty := t.TempDir()                          // exists, empty
			missing := filepath.Join(t.TempDir(), "data") // does not exist
			for _, dir := range []string{empty, missing} {
				var stderr bytes.Buffer
				args := []string{"serve", "--api-addr", "127.0.0.1:0", "--sse-addr", "127.0.0.1:0", "--data-dir", dir}
				err := run(context.Background(), args, testEnv(tc.env), io.Discard, &stderr)
				if err == nil || exitCode(err) != tc.exit {
					t.Fatalf("serve --data-dir %s: %v (exit %d), want a refusal with exit %d\n%s", dir, err, exitCode(err), tc.exit, stderr.String())
				}
				if !strings.Contains(err.Error(), "RTCHUB_CLIENT_") {
					t.Errorf("refusal %q does not name the variable", err)
				}
				ents, statErr := os.ReadDir(dir)
				switch {
				case dir == missing && !errors.Is(statErr, os.ErrNotExist):
					t.Errorf("the refusal created the data directory %s (%d entries)", dir, len(ents))
				case dir == empty && len(ents) != 0:
					t.Errorf("the refusal left files in the data directory: %v", ents)
				}
			}
		})
	}
}

// TestVerifyExitCodes: `rtchub verify` exits 0 on a clean log and after a
// repair, 1 when it reports damage or cannot check the directory, and 2
// on a usage error.
func TestVerifyExitCodes(t *testing.T) {
	t.Parallel()
	dir := servedDir(t)
	// A log with a few records (clients), written offline.
	for _, name := range []string{"one", "two", "three"} {
		if out, err := runCmd(t, "client", "add", name, "--data-dir", dir); err != nil {
			t.Fatalf("client add %s: %v: %s", name, err, out)
		}
	}
	verify := func(args ...string) (string, int, error) {
		t.Helper()
		out, err := runCmd(t, append([]string{"verify"}, args...)...)
		code := 0
		if err != nil {
			code = exitCode(err)
		}
		return out, code, err
	}
	if out, code, err := verify(dir); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("verify of a clean log: exit %d (%v): %s", code, err, out)
	}

	logPath := filepath.Join(dir, store.LogName)
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"seq":99,"op":"user_p`); err != nil { // a write torn by a crash
		t.Fatal(err)
	}
	f.Close()
	if out, code, err := verify(dir); code != 1 || !strings.Contains(out, "damaged last record") {
		t.Errorf("verify of a torn tail: exit %d (%v): %s; want exit 1 and the damage reported", code, err, out)
	}
	if out, code, err := verify("--repair", dir); code != 0 || !strings.Contains(out, "repaired") {
		t.Errorf("verify --repair of a torn tail: exit %d (%v): %s; want exit 0", code, err, out)
	}
	if out, code, err := verify(dir); code != 0 {
		t.Errorf("verify after the repair: exit %d (%v): %s", code, err, out)
	}

	// A damaged record with intact ones after it.
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"op":"`))
	b[i+6] ^= 0x01
	if err := os.WriteFile(logPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code, err := verify(dir); code != 1 || err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("verify of a corrupt record: exit %d (%v): %s; want exit 1 naming the damage", code, err, out)
	}

	missing := filepath.Join(t.TempDir(), "nope")
	if out, code, err := verify(missing); code != 1 || err == nil || err.Error() != "data directory "+missing+" does not exist" {
		t.Errorf("verify of a missing directory: exit %d (%v): %s; want exit 1 saying the data directory does not exist", code, err, out)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("verify created the missing directory: %v", err)
	}
	if out, code, err := verify(t.TempDir()); code != 1 || err == nil || !strings.Contains(err.Error(), "holds no rtchub.log") {
		t.Errorf("verify of a directory without a log: exit %d (%v): %s", code, err, out)
	}
	if out, code, err := verify(dir, dir); code != 2 {
		t.Errorf("verify with two directories: exit %d (%v): %s; want 2 (usage)", code, err, out)
	}
}

// TestClientFromEnvEmptySecretFile: rtchub.service always sets
// RTCHUB_CLIENT_SECRET_FILE to its credential, which is empty until the
// operator configures a client; that alone names no client and is no error.
func TestClientFromEnvEmptySecretFile(t *testing.T) {
	t.Parallel()
	empty := filepath.Join(t.TempDir(), "client_secret")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := clientFromEnv(testEnv(map[string]string{"RTCHUB_CLIENT_ID": "", "RTCHUB_CLIENT_SECRET": "", "RTCHUB_CLIENT_SECRET_FILE": empty}))
	if err != nil || c != (server.ClientCredentials{}) {
		t.Fatalf("clientFromEnv with only an empty secret file = %+v, %v; want no client, no error", c, err)
	}
	_, err = clientFromEnv(testEnv(map[string]string{"RTCHUB_CLIENT_ID": "app", "RTCHUB_CLIENT_SECRET": "", "RTCHUB_CLIENT_SECRET_FILE": empty}))
	if exitCode(err) != 2 {
		t.Fatalf("an id with an empty secret file: %v, want a usage error", err)
	}
}

// servedDir is a data directory as a hub leaves it after its first start:
// a log (with no records yet), a lock and a signing key.
func servedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOnlyServeMakesADataDirectory: the other commands refuse (exit 1) a
// directory that does not exist, or holds no log, and leave it as it was.
func TestOnlyServeMakesADataDirectory(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"client", "list"}, {"client", "add", "x"}, {"client", "remove", "x"},
		{"compact"}, {"backup", filepath.Join(t.TempDir(), "b.tar")}, {"verify"},
	} {
		missing := filepath.Join(t.TempDir(), "nope")
		empty := t.TempDir()
		for dir, want := range map[string]string{missing: "does not exist", empty: "holds no rtchub.log"} {
			_, err := runCmd(t, append(args, "--data-dir", dir)...)
			if exitCode(err) != 1 || err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("rtchub %v --data-dir %s: %v (exit %d), want exit 1 saying it %s", args, dir, err, exitCode(err), want)
			}
			ents, statErr := os.ReadDir(dir)
			switch {
			case dir == missing && !errors.Is(statErr, os.ErrNotExist):
				t.Errorf("rtchub %v created %s", args, dir)
			case dir == empty && len(ents) != 0:
				t.Errorf("rtchub %v left %v in an empty directory", args, ents)
			}
		}
	}
}
