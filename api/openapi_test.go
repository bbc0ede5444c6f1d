package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"rtchub/api"
	"rtchub/internal/testkit"
)

// doc is the embedded OpenAPI document, decoded.
func doc(t *testing.T) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(api.OpenAPI, &d); err != nil {
		t.Fatalf("api/openapi.json is not JSON: %v", err)
	}
	return d
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// routes are the "METHOD /path" patterns registered in the listeners'
// route lists: every string literal of that form that is the first
// argument of a call (mux.Handle, mux.HandleFunc, route).
func routes(t *testing.T, files ...string) []string {
	t.Helper()
	pat := regexp.MustCompile(`^(GET|POST|PUT|DELETE|PATCH|OPTIONS|HEAD) /`)
	var out []string
	for _, f := range files {
		fs := token.NewFileSet()
		file, err := parser.ParseFile(fs, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, _ := strconv.Unquote(lit.Value)
			if pat.MatchString(s) {
				method, path, _ := strings.Cut(s, " ")
				out = append(out, strings.ToLower(method)+" "+strings.TrimSuffix(path, "{$}"))
			}
			return true
		})
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIRoutes: the document describes exactly the routes the two
// listeners register, no more, no fewer.
func TestOpenAPIRoutes(t *testing.T) {
	d := doc(t)
	if v, _ := d["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", v)
	}
	var documented []string
	for path, item := range d["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			if slices.Contains(methods, m) {
				documented = append(documented, m+" "+path)
			}
		}
	}
	slices.Sort(documented)
	code := routes(t, "api.go", "../sse/sse.go")
	if len(code) < 20 {
		t.Fatalf("found only %d routes in api.go and sse/sse.go: %q", len(code), code)
	}
	// GET /healthz is registered on both listeners and documented once,
	// with both servers.
	code = slices.Compact(code)
	for _, r := range code {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is registered but not in api/openapi.json", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(code, r) {
			t.Errorf("api/openapi.json describes %q, which no listener registers", r)
		}
	}
}

// TestOpenAPIWellFormed: refs resolve, operation ids are unique, path
// parameters are declared, every operation answers something, errors are
// the Error shape.
func TestOpenAPIWellFormed(t *testing.T) {
	d := doc(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				if resolve(d, r) == nil {
					t.Errorf("%s: $ref %q does not resolve", at, r)
				}
			}
			for k, x := range v {
				walk(x, at+"/"+k)
			}
		case []any:
			for i, x := range v {
				walk(x, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(d, "#")

	ids := map[string]string{}
	for path, item := range d["paths"].(map[string]any) {
		wild := regexp.MustCompile(`\{([a-z_]+)\}`).FindAllStringSubmatch(path, -1)
		for m, o := range item.(map[string]any) {
			if !slices.Contains(methods, m) {
				continue
			}
			op := o.(map[string]any)
			where := m + " " + path
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] != "" {
				t.Errorf("%s: operationId %q missing or also on %s", where, id, ids[id])
			}
			ids[id] = where
			params := map[string]bool{}
			for _, p := range asList(op["parameters"]) {
				p := p.(map[string]any)
				if p["in"] == "path" {
					params[p["name"].(string)] = true
				}
			}
			for _, w := range wild {
				if !params[w[1]] {
					t.Errorf("%s: path parameter %s is not declared", where, w[1])
				}
			}
			resps, _ := op["responses"].(map[string]any)
			ok := false
			for code, r := range resps {
				if code[0] == '2' {
					ok = true
				}
				r := r.(map[string]any)
				if ref, isRef := r["$ref"].(string); isRef {
					r = resolve(d, ref).(map[string]any)
				}
				if code >= "400" {
					c, _ := r["content"].(map[string]any)
					j, _ := c["application/json"].(map[string]any)
					sch, _ := j["schema"].(map[string]any)
					if sch["$ref"] != "#/components/schemas/Error" {
						t.Errorf("%s: %s is not the Error shape", where, code)
					}
				}
			}
			if !ok {
				t.Errorf("%s: no 2xx answer", where)
			}
			if _, has := op["security"]; !has {
				t.Errorf("%s: no security (use [] for none)", where)
			}
		}
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

// resolve follows a local JSON pointer.
func resolve(d map[string]any, ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = d
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, nil)
	r := testkit.Request(t, "GET", e.url+"/api/openapi.json", nil, nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/openapi.json without a token: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	if !bytes.Equal(r.Body, api.OpenAPI) {
		t.Errorf("served body is not the embedded api/openapi.json")
	}
	if r := testkit.Request(t, "GET", e.url+"/api/openapi.json?x=1", nil, nil); r.Status != 400 {
		t.Errorf("unknown query parameter: %d, want 400", r.Status)
	} else {
		errorMsg(t, r)
	}
}

var updateMin = flag.Bool("update", false, "rewrite api/openapi.min.json from api/openapi.json")

// The embedded openapi.min.json is openapi.json compacted: edit the
// readable one, then `go test ./api -run TestOpenAPIMinIsCurrent -update`.
func TestOpenAPIMinIsCurrent(t *testing.T) {
	src, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var min bytes.Buffer
	if err := json.Compact(&min, src); err != nil {
		t.Fatalf("api/openapi.json: %v", err)
	}
	if *updateMin {
		if err := os.WriteFile("openapi.min.json", min.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(api.OpenAPI, min.Bytes()) {
		t.Fatal("api/openapi.min.json is not api/openapi.json compacted: run go test ./api -run TestOpenAPIMinIsCurrent -update")
	}
}
