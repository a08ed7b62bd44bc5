package inubitsessions

// Benchmarks behind BENCHMARKS.md; scripts/bench.sh runs them. They run
// only with -bench, never in the ordinary test run. Each pair measures
// the handler in front of a bare next handler against that next handler
// alone, on the same request, so the difference is what the handler adds.

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
	"github.com/inubit-caddy/caddy-inubit-sessions/store"
)

// provisionForBench provisions a handler with its bolt store in a
// temporary directory, as Caddy would, and cleans it up after b.
func provisionForBench(b *testing.B) *Handler {
	b.Helper()
	h, stop := provisionForBenchIn(b, b.TempDir())
	b.Cleanup(stop)
	return h
}

// provisionForBenchIn provisions a handler whose store lives in dir and
// returns it with the function that stops it as a config unload does.
func provisionForBenchIn(b *testing.B, dir string) (*Handler, func()) {
	b.Helper()
	inubit := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	b.Cleanup(inubit.Close)
	h := &Handler{
		Endpoint:  inubit.URL + "/ibis/rest/webapp/session/instances",
		BasicAuth: &BasicAuth{Username: "svc", Password: "pw"},
		User:      []string{"{http.request.header.user}"},
		Logout:    []string{"/logout"},
		Storage:   dir,
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	return h, func() {
		cancel()
		if err := h.Cleanup(); err != nil {
			b.Error(err)
		}
	}
}

// benchID is entry ID number n, spelt as cmd/benchsessions spells it.
func benchID(n int) string {
	return "webform@@@Bench/form_orders(1)_app@@@" + strconv.Itoa(n) + ".xml"
}

// discardWriter is a ResponseWriter that keeps nothing but its header map,
// which is emptied before each request.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

var htmlType = []string{"text/html; charset=utf-8"}

// pageNext is a next handler that sends page as text/html in pieces of
// at most chunk bytes (0: one piece), as reverse_proxy streams a body.
func pageNext(page []byte, chunk int, encoding []string) caddyhttp.Handler {
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header()["Content-Type"] = htmlType
		if encoding != nil {
			w.Header()["Content-Encoding"] = encoding
		}
		w.WriteHeader(http.StatusOK)
		if chunk == 0 {
			_, err := w.Write(page)
			return err
		}
		for p := page; len(p) > 0; {
			k := min(len(p), chunk)
			if _, err := w.Write(p[:k]); err != nil {
				return err
			}
			p = p[k:]
		}
		return nil
	})
}

// smallPage is a 2 KiB page like cmd/benchupstream's; %s may hold an ID.
func smallPage(id string) []byte {
	var b strings.Builder
	b.WriteString("<!doctype html><html><head><title>Orders</title></head><body>\n<div data-entry=\"" +
		id + "\"></div><table>\n")
	for i := 0; b.Len() < 2000; i++ {
		fmt.Fprintf(&b, "<tr><td>%d</td><td>Order %d</td><td>open</td></tr>\n", 10000+i, i)
	}
	b.WriteString("</table></body></html>\n")
	return []byte(b.String())
}

// benchRequest is a GET of path with the given header and a replacer, as
// Caddy's server hands it to its handlers.
func benchRequest(path string, header http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil)
	r.Header = header
	caddyhttp.NewTestReplacer(r)
	return r
}

// sessionHeader is the header of a request of session i: its cookie and
// its user.
func sessionHeader(prefix string, i int) http.Header {
	return http.Header{
		"Cookie": {"JSESSIONID=" + prefix + strconv.Itoa(i)},
		"User":   {"u" + strconv.Itoa(i%100)},
	}
}

// createSessions sends one request for each of n sessions, session i
// with sessionHeader(prefix, i) and entry ID i, which creates them.
func createSessions(b *testing.B, h *Handler, next caddyhttp.Handler, prefix string, n int) {
	b.Helper()
	w := &discardWriter{header: http.Header{}}
	for i := range n {
		hdr := sessionHeader(prefix, i)
		hdr["Webappidentifier"] = []string{benchID(i)}
		serveOnce(b, h, w, benchRequest("/page", hdr), next)
	}
}

// serveOnce runs one request through h (or next alone if h is nil) and
// fails b on an error.
func serveOnce(b *testing.B, h *Handler, w *discardWriter, r *http.Request, next caddyhttp.Handler) {
	clear(w.header)
	var err error
	if h == nil {
		err = next.ServeHTTP(w, r)
	} else {
		err = h.ServeHTTP(w, r, next)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkServeHTTP compares the handler with the bare next handler for
// the requests of the wrk load test: a tracked session without an ID, an
// ID the session holds already, an ID new to its session, and the
// session's ID in the response body; plus a request without a cookie.
func BenchmarkServeHTTP(b *testing.B) {
	plain := smallPage("")
	cases := []struct {
		name    string
		request func() *http.Request
		// update, if set, changes the request before iteration i
		update func(r *http.Request, i int)
		page   []byte
	}{
		{name: "no_cookie", request: func() *http.Request {
			return benchRequest("/page", http.Header{"User": {"u1"}})
		}},
		{name: "tracked", request: func() *http.Request {
			return benchRequest("/page", sessionHeader("bench-", 7))
		}},
		{name: "known_id", request: func() *http.Request {
			hdr := sessionHeader("bench-", 7)
			hdr["Webappidentifier"] = []string{benchID(7)}
			return benchRequest("/page", hdr)
		}},
		{name: "new_id", request: func() *http.Request {
			return benchRequest("/page", sessionHeader("new-", 0))
		}, update: func(r *http.Request, i int) {
			// a session opens 32 forms, then the next session starts
			if i%32 == 0 {
				r.Header["Cookie"] = []string{"JSESSIONID=new-" + strconv.Itoa(i/32)}
			}
			r.Header["Webappidentifier"] = []string{benchID(1_000_000 + i)}
		}},
		{name: "body_id", request: func() *http.Request {
			return benchRequest("/idpage", sessionHeader("bench-", 7))
		}, page: smallPage(benchID(7))},
	}
	for _, bc := range cases {
		page := plain
		if bc.page != nil {
			page = bc.page
		}
		next := pageNext(page, 0, nil)
		for _, withHandler := range []bool{false, true} {
			name := bc.name + "/bare"
			if withHandler {
				name = bc.name + "/handler"
			}
			b.Run(name, func(b *testing.B) {
				var h *Handler
				if withHandler {
					h = provisionForBench(b)
					// session 7 is live and holds its ID
					hdr := sessionHeader("bench-", 7)
					hdr["Webappidentifier"] = []string{benchID(7)}
					serveOnce(b, h, &discardWriter{header: http.Header{}}, benchRequest("/page", hdr), next)
				}
				w := &discardWriter{header: http.Header{}}
				r := bc.request()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if bc.update != nil {
						bc.update(r, i)
					}
					serveOnce(b, h, w, r, next)
					i++
				}
			})
		}
	}
}

// BenchmarkServeHTTPSessions is BenchmarkServeHTTP's tracked and
// known_id requests with n live sessions in the table (and in the store),
// each request from the next session in turn, as many browsers send
// them: how the per-request cost grows with the session count. The
// sessions are stored before the clock starts; the requests then move
// no session's last-seen time far enough to be written again.
func BenchmarkServeHTTPSessions(b *testing.B) {
	next := pageNext(smallPage(""), 0, nil)
	for _, n := range []int{1_000, 10_000, 100_000} {
		for _, scenario := range []string{"tracked", "known_id"} {
			b.Run(fmt.Sprintf("sessions=%d/%s", n, scenario), func(b *testing.B) {
				h := provisionForBench(b)
				createSessions(b, h, next, "scale-", n)
				requests := make([]*http.Request, n)
				for i := range n {
					hdr := sessionHeader("scale-", i)
					if scenario == "known_id" {
						hdr["Webappidentifier"] = []string{benchID(i)}
					}
					requests[i] = benchRequest("/page", hdr)
				}
				w := &discardWriter{header: http.Header{}}
				if stored := waitStored(b, h, n); stored != n {
					b.Fatalf("%d of %d sessions stored", stored, n)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					serveOnce(b, h, w, requests[i], next)
					if i++; i == n {
						i = 0
					}
				}
				b.StopTimer()
				if got := h.state.tracker.Len(); got != n {
					b.Fatalf("%d live sessions after the run, want %d", got, n)
				}
			})
		}
	}
}

// BenchmarkRestart is a Caddy start on a store that holds n live
// sessions with one ID each: the handler's Provision, which opens the
// store and loads every session before the first request is served.
// The stop before each start is not timed.
func BenchmarkRestart(b *testing.B) {
	next := pageNext(smallPage(""), 0, nil)
	for _, n := range []int{10_000, 100_000} {
		b.Run("sessions="+strconv.Itoa(n), func(b *testing.B) {
			dir := b.TempDir()
			h, stop := provisionForBenchIn(b, dir)
			createSessions(b, h, next, "restart-", n)
			if stored := waitStored(b, h, n); stored != n {
				b.Fatalf("%d of %d sessions stored", stored, n)
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				stop()
				b.StartTimer()
				h, stop = provisionForBenchIn(b, dir)
				if got := h.state.tracker.Len(); got != n {
					b.Fatalf("%d sessions after the start, want %d", got, n)
				}
			}
			stop()
		})
	}
}

// largePage builds about 1 MiB of portal markup and script with ids
// distinct entry IDs spread through it, raw, as HTML entities and as
// JavaScript escapes.
func largePage(ids int) []byte {
	const block = `<tr class="x-grid-row" id="row-%[1]d"><td>%[1]d</td><td>Würzburg, Hauptstraße %[1]d</td>
<td><a href="#" onclick="Ext.getCmp('grid').fireEvent('open',{row:%[1]d,wf:'@@@ISAjaxCall@@@'});return false">open</a></td></tr>
`
	var b bytes.Buffer
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, block, i)
	}
	page := b.Bytes()
	if ids == 0 {
		return page
	}
	renderings := []func(int) string{
		benchID,
		func(n int) string { return strings.ReplaceAll(benchID(n), "@", "&#64;") },
		func(n int) string { return strings.ReplaceAll(benchID(n), "/", `\/`) },
	}
	var out bytes.Buffer
	step := len(page) / ids
	for i := range ids {
		out.Write(page[i*step : (i+1)*step])
		out.WriteString(renderings[i%len(renderings)](i))
	}
	out.Write(page[ids*step:])
	return out.Bytes()
}

func gzipped(p []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(p)
	_ = zw.Close()
	return b.Bytes()
}

// BenchmarkLargePage streams a 1 MiB HTML page through the handler in
// 32 KiB writes (reverse_proxy's buffer size), which scans it for entry
// IDs, and through the bare next handler. Throughput counts the page's
// uncompressed size, also for the gzip cases.
func BenchmarkLargePage(b *testing.B) {
	cases := []struct {
		name string
		ids  int
		gzip bool
	}{
		{"no_ids", 0, false},
		{"ten_ids", 10, false},
		{"gzip_no_ids", 0, true},
		{"gzip_ten_ids", 10, true},
	}
	for _, bc := range cases {
		page := largePage(bc.ids)
		body, encoding := page, []string(nil)
		if bc.gzip {
			body, encoding = gzipped(page), []string{"gzip"}
		}
		next := pageNext(body, 32<<10, encoding)
		for _, withHandler := range []bool{false, true} {
			name := bc.name + "/bare"
			if withHandler {
				name = bc.name + "/handler"
			}
			b.Run(name, func(b *testing.B) {
				var h *Handler
				if withHandler {
					h = provisionForBench(b)
				}
				w := &discardWriter{header: http.Header{}}
				r := benchRequest("/big", sessionHeader("big-", 1))
				b.SetBytes(int64(len(page)))
				b.ReportAllocs()
				for b.Loop() {
					serveOnce(b, h, w, r, next)
				}
				if h != nil {
					if got := h.state.tracker.Len(); bc.ids > 0 && got != 1 {
						b.Fatalf("%d sessions after pages with IDs, want 1", got)
					}
				}
			})
		}
	}
}

// memSample is the process's memory after two collections and a return
// of free pages to the system.
type memSample struct {
	heapInuse uint64
	rssAnon   uint64 // bytes; 0 where /proc is missing
	rssFile   uint64 // file pages mapped in, the bolt file's among them
}

func sampleMemory() memSample {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := memSample{heapInuse: ms.HeapInuse}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return s
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "RssAnon":
			s.rssAnon = kb << 10
		case "RssFile":
			s.rssFile = kb << 10
		}
	}
	return s
}

func perItem(after, before uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n)
}

// BenchmarkSessionMemory creates n sessions with one entry ID each through
// ServeHTTP, with the bolt store on, waits until they are stored, and
// reports the growth of the live heap and of resident memory per session.
// One run is one measurement: use -benchtime=1x.
func BenchmarkSessionMemory(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run("sessions="+strconv.Itoa(n), func(b *testing.B) {
			h := provisionForBench(b)
			next := pageNext(smallPage(""), 0, nil)
			w := &discardWriter{header: http.Header{}}
			for range 200 { // warm pools and buffers, no session
				serveOnce(b, h, w, benchRequest("/page", http.Header{}), next)
			}
			time.Sleep(3 * FlushInterval)
			before := sampleMemory()

			createSessions(b, h, next, "mem-", n)
			stored := waitStored(b, h, n)
			after := sampleMemory()

			if got := h.state.tracker.Len(); got != n {
				b.Fatalf("%d live sessions, want %d", got, n)
			}
			b.ReportMetric(perItem(after.heapInuse, before.heapInuse, n), "heap-B/session")
			b.ReportMetric(perItem(after.rssAnon, before.rssAnon, n), "anon-B/session")
			b.ReportMetric(perItem(after.rssFile, before.rssFile, n), "file-B/session")
			b.ReportMetric(float64(stored), "stored")
			writeHeapProfile(b, "sessions="+strconv.Itoa(n))
			runtime.KeepAlive(h)
		})
	}
}

// writeHeapProfile writes the heap profile to $BENCH_HEAP_PROFILE-name.pprof
// if that variable is set; with -memprofilerate=1 it counts every object.
func writeHeapProfile(b *testing.B, name string) {
	prefix := os.Getenv("BENCH_HEAP_PROFILE")
	if prefix == "" {
		return
	}
	f, err := os.Create(prefix + "-" + name + ".pprof")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// waitStored waits until the store holds n sessions, at most 30 s, and
// returns how many it holds.
func waitStored(b *testing.B, h *Handler, n int) int {
	deadline := time.Now().Add(30 * time.Second)
	for {
		stored := 0
		err := h.state.store.Sessions(func(sessiontracker.Snapshot) error {
			stored++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if stored >= n || time.Now().After(deadline) {
			return stored
		}
		time.Sleep(FlushInterval)
	}
}

// BenchmarkPendingMemory queues one million entry IDs for 100 users in
// the bolt store, as ended sessions do while INUBIT is in maintenance,
// then starts a cleaner on that queue as Caddy does after a restart (it
// keeps per-user counts only), and reports memory per queued ID. One run
// is one measurement: use -benchtime=1x.
func BenchmarkPendingMemory(b *testing.B) {
	const (
		total = 1_000_000
		users = 100
		batch = 10_000 // IDs per commit: about what 100 ended sessions hold
	)
	dir := b.TempDir()
	db, err := store.OpenBolt(dir, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	before := sampleMemory()

	start := time.Now()
	for from := 0; from < total; from += batch {
		pending := make(map[string][]string, users)
		for i := from; i < from+batch; i++ {
			user := "u" + strconv.Itoa(i%users)
			pending[user] = append(pending[user], benchID(i))
		}
		if _, err := db.Commit(store.Batch{Pending: pending}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(time.Since(start).Seconds(), "s-to-queue")
	queued := sampleMemory()

	c, err := cleaner.New(cleaner.Config{
		Endpoint: "http://127.0.0.1:1/ibis/rest/webapp/session/instances",
		Username: "svc", Password: "pw",
	}, storeQueue{db}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	counted := 0
	for _, n := range c.Pending() {
		counted += n
	}
	if counted != total {
		b.Fatalf("cleaner counts %d pending IDs, want %d", counted, total)
	}
	after := sampleMemory()
	b.ReportMetric(perItem(queued.heapInuse, before.heapInuse, total), "heap-B/id")
	b.ReportMetric(perItem(after.heapInuse, before.heapInuse, total), "heap+cleaner-B/id")
	b.ReportMetric(perItem(after.rssAnon, before.rssAnon, total), "anon-B/id")
	b.ReportMetric(perItem(after.rssFile, before.rssFile, total), "file-B/id")
	if fi, err := os.Stat(filepath.Join(dir, store.FileName)); err == nil {
		b.ReportMetric(float64(fi.Size())/total, "disk-B/id")
	}
	runtime.KeepAlive(c)
}
