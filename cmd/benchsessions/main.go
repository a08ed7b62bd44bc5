// Command benchsessions creates browser sessions in a Caddy that runs
// inubit_sessions, for scripts/bench.sh: session i sends one request with
// the cookie JSESSIONID=<prefix><i>, the header user: u<i mod users> and
// -ids webappIdentifier headers, each a distinct entry ID; with -logout
// a second request ends the session again. It talks to loopback only.
//
//	go run ./cmd/benchsessions -target http://127.0.0.1:8080 -from 0 -n 100000
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	target      *url.URL
	path        string
	prefix      string
	from, n     int
	ids         int
	users       int
	logout      string
	concurrency int
}

func main() {
	var o options
	target := flag.String("target", "", "base URL of the Caddy under test; loopback only")
	flag.StringVar(&o.path, "path", "/page", "path of the request that creates a session")
	flag.StringVar(&o.prefix, "prefix", "bench-", "session cookie values are this prefix and a number")
	flag.IntVar(&o.from, "from", 0, "number of the first session")
	flag.IntVar(&o.n, "n", 1000, "sessions to create")
	flag.IntVar(&o.ids, "ids", 1, "distinct entry IDs per session, one webappIdentifier header each")
	flag.IntVar(&o.users, "users", 100, "distinct users the sessions log in as")
	flag.StringVar(&o.logout, "logout", "", "if set, a request to this path ends each session again")
	flag.IntVar(&o.concurrency, "c", 8, "requests in flight at once")
	flag.Parse()

	var err error
	if o.target, err = loopbackURL(*target); err != nil {
		log.Fatalf("benchsessions: -target: %v", err)
	}
	start := time.Now()
	if err := run(o); err != nil {
		log.Fatalf("benchsessions: %v", err)
	}
	log.Printf("benchsessions: %d sessions (%d..%d) with %d IDs each in %s",
		o.n, o.from, o.from+o.n-1, o.ids, time.Since(start).Round(time.Millisecond))
}

// loopbackURL parses raw and refuses any host but a loopback IP.
func loopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%q: want http://127.0.0.1:PORT", raw)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%q: only loopback IPs (127.0.0.1, ::1) are allowed", raw)
	}
	return u, nil
}

func run(o options) error {
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency, DisableCompression: true},
	}
	var next atomic.Int64
	next.Store(int64(o.from))
	end := int64(o.from + o.n)
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range max(o.concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= end {
					return
				}
				if err := session(client, o, int(i)); err != nil {
					errOnce.Do(func() { first = err })
					next.Store(end)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// session plays session i: one request with its IDs, then the logout.
func session(client *http.Client, o options, i int) error {
	cookie := "JSESSIONID=" + o.prefix + strconv.Itoa(i)
	req, err := http.NewRequest(http.MethodGet, o.target.JoinPath(o.path).String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", cookie)
	req.Header.Set("user", "u"+strconv.Itoa(i%max(o.users, 1)))
	for j := range o.ids {
		req.Header.Add("webappIdentifier", benchID(i*o.ids+j))
	}
	if err := do(client, req); err != nil {
		return err
	}
	if o.logout == "" {
		return nil
	}
	req, err = http.NewRequest(http.MethodGet, o.target.JoinPath(o.logout).String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", cookie)
	return do(client, req)
}

func do(client *http.Client, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(req.URL.Path + ": " + resp.Status)
	}
	return nil
}

// benchID returns entry ID number n, spelt as benchupstream and the wrk
// scripts of scripts/bench spell it.
func benchID(n int) string {
	return "webform@@@Bench/form_orders(1)_app@@@" + strconv.Itoa(n) + ".xml"
}
