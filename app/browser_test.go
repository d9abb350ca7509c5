package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// browserTimeout bounds the whole browser session: the test can never hang.
const browserTimeout = 90 * time.Second

// findBrowser returns the path of a Chromium-based browser on PATH. When none is
// found the test skips, or fails under ARTICLESD_REQUIRE_BROWSER=1.
func findBrowser(t *testing.T) string {
	t.Helper()
	names := []string{"chromium", "chromium-browser", "google-chrome"}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	storetest.Skip(t, storetest.Browser, fmt.Sprintf("no browser on PATH (looked for %s)", strings.Join(names, ", ")))
	return ""
}

// TestSwaggerUI drives the embedded Swagger UI in a real headless Chromium against
// the real handler on a loopback listener with a SQLite store: every operation of the
// document is listed, "Try it out" creates an article and reads it back, and the page
// fetches nothing from outside the test server.
//
// Refresh the README screenshot with
//
//	ARTICLESD_TEST_SCREENSHOT=$PWD/docs/swagger-ui.png go test -run SwaggerUI ./app/
func TestSwaggerUI(t *testing.T) {
	chrome := findBrowser(t)

	doc, err := app.LoadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	type operation struct{ method, path, id, tag string }
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			tag := "default"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			ops = append(ops, operation{strings.ToLower(method), path, op.OperationID, tag})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		return ops[i].path+" "+ops[i].method < ops[j].path+" "+ops[j].method
	})
	if len(ops) != 7 {
		t.Fatalf("embedded/openapi.yaml has %d operations, this test expects 7: %v", len(ops), ops)
	}
	opSel := func(method, path string) string {
		for _, o := range ops {
			if o.method == method && o.path == path {
				return "#operations-" + o.tag + "-" + o.id
			}
		}
		t.Fatalf("no operation %s %s in embedded/openapi.yaml", method, path)
		return ""
	}

	s := storetest.Open(t, store.SQLite)
	handler, err := app.NewHandler(app.Options{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close) // runs after the browser below is gone
	base, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	// Record every request the page makes.
	type request struct{ method, url string }
	var (
		mu       sync.Mutex
		requests []request
	)
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil {
			mu.Lock()
			requests = append(requests, request{e.Request.Method, e.Request.URL})
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start the browser (%s): %v", chrome, err)
	}

	start := time.Now()
	// run runs the steps, failing the test with the HTML of the operation on error.
	run := func(what, op string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			html := ""
			if op != "" {
				dctx, dcancel := context.WithTimeout(bctx, 5*time.Second)
				html, _ = chromedp.Run(dctx, chromedp.Evaluate[string](
					fmt.Sprintf(`(document.querySelector(%q) || {outerHTML: "(no element)"}).outerHTML`, op)))
				dcancel()
				if len(html) > 8000 {
					html = html[:8000] + "…"
				}
			}
			t.Fatalf("%s: %v\n%s", what, err, html)
		}
	}
	text := func(what, sel string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s (%s): %v", what, sel, err)
		}
		return strings.TrimSpace(v)
	}
	// fill replaces the value of an input or textarea as a user does: select all of
	// it, then paste the new value (Input.insertText: one input event, where typing
	// key by key makes Swagger UI re-render on every key, about 15s for an article).
	fill := func(sel, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.WaitVisible(chromedp.CSS(sel)),
			chromedp.Focus(chromedp.CSS(sel)),
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).select()`, sel)),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: value})
				return err
			}),
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value === %s`, sel, jsString(value)),
				chromedp.WithPollingTimeout(10*time.Second)),
		)
	}
	// tryItOut expands an operation and switches it to "Try it out".
	tryItOut := func(op string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Click(chromedp.CSS(op+" .opblock-summary-control")),
			chromedp.WaitVisible(chromedp.CSS(op+" .try-out__btn")),
			chromedp.Click(chromedp.CSS(op+" .try-out__btn")),
			chromedp.WaitVisible(chromedp.CSS(op+" .btn.execute")),
		)
	}
	// execute clicks Execute and returns the status and the body of the live response.
	execute := func(what, op string) (int, string) {
		t.Helper()
		run(what+": execute", op,
			chromedp.Click(chromedp.CSS(op+" .btn.execute")),
			chromedp.WaitVisible(chromedp.CSS(op+" .live-responses-table tr.response .response-col_status")),
			chromedp.WaitVisible(chromedp.CSS(op+" .live-responses-table tr.response .response-col_description .highlight-code pre")),
		)
		status := text(what+": response status", op+" .live-responses-table tr.response .response-col_status")
		code, err := strconv.Atoi(status)
		if err != nil {
			t.Fatalf("%s: the response status cell says %q", what, status)
		}
		return code, text(what+": response body", op+" .live-responses-table tr.response .response-col_description .highlight-code pre")
	}

	run("enable the network domain", "", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return err
	}))

	// Every operation of the document is listed.
	run("load /ui/", "", chromedp.Navigate(srv.URL+"/ui/"), chromedp.WaitVisible(chromedp.CSS(".opblock")))
	for _, o := range ops {
		run("operation "+o.method+" "+o.path+" is shown", "", chromedp.WaitVisible(chromedp.CSS(opSel(o.method, o.path))))
	}
	type shown struct {
		Class string `json:"class"`
		Path  string `json:"path"`
	}
	blocks, err := chromedp.Run(bctx, chromedp.Evaluate[[]shown](`Array.from(document.querySelectorAll(".opblock")).map(b => {
		const p = b.querySelector(".opblock-summary-path");
		return {class: b.className, path: p ? (p.getAttribute("data-path") || p.textContent.replace(/\u200b/g, "")) : ""};
	})`))
	if err != nil {
		t.Fatalf("read the operations: %v", err)
	}
	var got []string
	for _, b := range blocks {
		method := ""
		for c := range strings.FieldsSeq(b.Class) {
			if m, ok := strings.CutPrefix(c, "opblock-"); ok && slices.Contains([]string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}, m) {
				method = m
			}
		}
		got = append(got, method+" "+strings.TrimSpace(b.Path))
	}
	var want []string
	for _, o := range ops {
		want = append(want, o.method+" "+o.path)
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(blocks) != 7 {
		t.Errorf("the page shows %d operations, want 7", len(blocks))
	}
	assertStrings(t, "operations shown by Swagger UI", got, want)

	// Try it out: POST /articles.
	const title = "Browser test: Blade Runner"
	article := map[string]any{
		"title":   title,
		"content": "Deckard hunts replicants in a rain-soaked Los Angeles; the film asks what makes us human.",
		"author":  "Ridley Scott",
		"tags":    []string{"sci-fi", "classic"},
	}
	body, _ := json.Marshal(article)
	post := opSel("post", "/articles")
	run("POST /articles: try it out", post, tryItOut(post), fill(post+" textarea.body-param__text", string(body)))
	code, resp := execute("POST /articles", post)
	if code != 201 {
		t.Fatalf("POST /articles: the page shows status %d, want 201; body: %s", code, resp)
	}
	var created struct {
		ID      string   `json:"id"`
		Title   string   `json:"title"`
		Content string   `json:"content"`
		Author  string   `json:"author"`
		Tags    []string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(resp), &created); err != nil {
		t.Fatalf("POST /articles: the response body in the page is not JSON: %v\n%s", err, resp)
	}
	if !strings.Contains(resp, `"id"`) || created.ID == "" || !strings.Contains(resp, title) || created.Title != title {
		t.Fatalf("POST /articles: the response body in the page lacks the id or the title %q:\n%s", title, resp)
	}
	t.Logf("POST /articles in Swagger UI → 201, id %s", created.ID)

	// The article really is in the database.
	id, err := strconv.ParseInt(created.ID, 10, 64)
	if err != nil {
		t.Fatalf("id %q is not an integer: %v", created.ID, err)
	}
	stored, err := s.GetArticle(ctx, id)
	if err != nil {
		t.Fatalf("the article %d created in the page is not in the database: %v", id, err)
	}
	if stored.Title != title || stored.Author != article["author"] || stored.Content != article["content"] ||
		!slices.Equal([]string(stored.Tags), article["tags"].([]string)) {
		t.Errorf("stored article = %+v, want %s", stored, body)
	}

	// Collapse POST so that the page (and the screenshot) centres on the GET.
	run("collapse POST /articles", post, chromedp.Click(chromedp.CSS(post+" .opblock-summary-control")),
		chromedp.WaitNotPresent(chromedp.CSS(post+" .live-responses-table")))

	// Try it out: GET /articles/{id}.
	get := opSel("get", "/articles/{id}")
	run("GET /articles/{id}: try it out", get, tryItOut(get), fill(get+` tr[data-param-name="id"] input`, created.ID))
	code, resp = execute("GET /articles/{id}", get)
	if code != 200 {
		t.Fatalf("GET /articles/%s: the page shows status %d, want 200; body: %s", created.ID, code, resp)
	}
	var read struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(resp), &read); err != nil {
		t.Fatalf("GET /articles/%s: the response body in the page is not JSON: %v\n%s", created.ID, err, resp)
	}
	if read.ID != created.ID || read.Title != title || !strings.Contains(resp, title) {
		t.Fatalf("GET /articles/%s: the response body in the page is not the article %q:\n%s", created.ID, title, resp)
	}
	t.Logf("GET /articles/%s in Swagger UI → 200", created.ID)

	// Screenshot of the page after the GET.
	run("scroll to the GET response", get, chromedp.ScrollIntoView(chromedp.CSS(get)))
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	paths := []string{filepath.Join(t.TempDir(), "swagger-ui.png")}
	if p := os.Getenv("ARTICLESD_TEST_SCREENSHOT"); p != "" {
		paths = append(paths, p)
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatalf("write the screenshot: %v", err)
		}
		t.Logf("screenshot (%d bytes) written to %s", len(png), p)
	}

	// No request left the machine: everything came from the test server.
	mu.Lock()
	seen := slices.Clone(requests)
	mu.Unlock()
	var sawPost, sawGet bool
	for _, r := range seen {
		u, err := url.Parse(r.url)
		if err != nil {
			t.Errorf("request %s %q: bad URL: %v", r.method, r.url, err)
			continue
		}
		if u.Scheme == "data" {
			continue
		}
		if u.Host != base.Host || u.Scheme != base.Scheme {
			t.Errorf("the page requested %s %s, which is not on the test server %s", r.method, r.url, srv.URL)
		}
		sawPost = sawPost || (r.method == "POST" && u.Path == "/articles")
		sawGet = sawGet || (r.method == "GET" && u.Path == "/articles/"+created.ID)
	}
	if !sawPost || !sawGet {
		t.Errorf("the recorded requests lack the POST /articles or the GET /articles/%s that the page made: %v", created.ID, seen)
	}
	t.Logf("%d requests, all to %s; browser session took %s", len(seen), srv.URL, time.Since(start).Round(time.Millisecond))
}

// jsString renders s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
