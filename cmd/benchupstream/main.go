// Command benchupstream is the backend of scripts/bench.sh: a small web
// app and the INUBIT emulator, each on its own loopback port. It refuses
// any address that is not loopback, so a benchmark cannot reach out.
//
//	go run ./cmd/benchupstream -ready /tmp/ports
//
// The web app answers
//
//	/page         a 2 KiB HTML page without entry IDs
//	/idpage?n=N   the same page with entry ID number N in it
//	/asset.js     a 256 KiB static script, with Last-Modified and ETag
//	/asset.js?generated=1  the same script as a page generates it: no
//	              Last-Modified, so inubit_sessions scans it
//	/logout       a short page (the bench Caddyfile lists it under logout)
//
// and the emulator's port answers INUBIT's resources plus
//
//	/bench/maintenance?on=1|0  switch maintenance mode
//	/bench/cleared             count of IDs INUBIT accepted, as a number
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// serviceAccount is the user the bench Caddyfile sends its clear calls as;
// its password comes from INUBIT_PASSWORD.
const serviceAccount = "svc-bench"

func main() {
	appAddr := flag.String("app", "127.0.0.1:0", "loopback address of the web app")
	inubitAddr := flag.String("inubit", "127.0.0.1:0", "loopback address of the INUBIT emulator")
	ready := flag.String("ready", "", "file to write APP_PORT= and INUBIT_PORT= lines to once listening")
	flag.Parse()
	if err := run(*appAddr, *inubitAddr, *ready); err != nil {
		log.Fatalf("benchupstream: %v", err)
	}
}

func run(appAddr, inubitAddr, ready string) error {
	password := os.Getenv("INUBIT_PASSWORD")
	if password == "" {
		return errors.New("INUBIT_PASSWORD is not set")
	}
	fake := fakeinubit.New(fakeinubit.Profile9JSON, map[string]string{serviceAccount: password})

	appLn, err := fakeinubit.ListenLoopback(appAddr)
	if err != nil {
		return err
	}
	inubitLn, err := fakeinubit.ListenLoopback(inubitAddr)
	if err != nil {
		return err
	}
	servers := []*http.Server{
		{Handler: appHandler(), ReadHeaderTimeout: 10 * time.Second},
		{Handler: inubitHandler(fake), ReadHeaderTimeout: 10 * time.Second},
	}
	errs := make(chan error, 2)
	go func() { errs <- servers[0].Serve(appLn) }()
	go func() { errs <- servers[1].Serve(inubitLn) }()

	if ready != "" {
		ports := fmt.Sprintf("APP_PORT=%d\nINUBIT_PORT=%d\n",
			appLn.Addr().(*net.TCPAddr).Port, inubitLn.Addr().(*net.TCPAddr).Port)
		if err := os.WriteFile(ready, []byte(ports), 0o600); err != nil {
			return err
		}
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-stop:
	case err := <-errs:
		return err
	}
	for _, srv := range servers {
		_ = srv.Close()
	}
	return nil
}

// pageBody is the web app's page: about 2 KiB of markup and script, the
// size of a small portal page. %s is where an entry ID may go.
var pageBody = func() string {
	var b bytes.Buffer
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Orders</title>\n" +
		"<style>body{font-family:sans-serif}td{padding:2px 6px}</style></head><body>\n" +
		"<h1>Orders</h1>\n<div id=\"form\" data-entry=\"%s\"></div>\n<table>\n")
	for i := 0; b.Len() < 1900; i++ {
		fmt.Fprintf(&b, "<tr><td>%d</td><td>Order %d</td><td>open</td></tr>\n", 10000+i, i)
	}
	b.WriteString("</table>\n<script>window.portal={user:document.body.dataset.user}</script>\n</body></html>\n")
	return b.String()
}()

var plainPage = []byte(fmt.Sprintf(pageBody, ""))

// assetScript is a 256 KiB static script, minified library code as a web
// app's pages load it (Ext JS is several times this size).
var assetScript = func() []byte {
	const chunk = `Ext.define("Bench.window.Window",{extend:"Ext.panel.Panel",alias:"widget.window",` +
		`width:400,height:300,modal:false,closable:true,initComponent:function(){var me=this;` +
		`me.callParent(arguments);me.on("show",function(w){w.toFront()},me)},` +
		`onWindowResize:function(){var b=Ext.getBody().getViewSize();this.setSize(b.width,b.height)}});\n`
	out := bytes.Repeat([]byte(chunk), 256*1024/len(chunk)+1)
	return out[:256*1024]
}()

// benchID returns entry ID number n, spelt as benchsessions and the wrk
// scripts of scripts/bench spell it.
func benchID(n int) string {
	return "webform@@@Bench/form_orders(1)_app@@@" + strconv.Itoa(n) + ".xml"
}

func appHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		writeHTML(w, plainPage)
	})
	mux.HandleFunc("/idpage", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		writeHTML(w, []byte(fmt.Sprintf(pageBody, benchID(n))))
	})
	mux.HandleFunc("/asset.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		if r.URL.Query().Get("generated") == "" {
			// as Tomcat's default servlet sends a static file
			w.Header().Set("Last-Modified", "Tue, 01 Dec 2026 08:00:00 GMT")
			w.Header().Set("ETag", `W/"262144-1796112000000"`)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(assetScript)))
		_, _ = w.Write(assetScript)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		writeHTML(w, []byte("<!doctype html><p>Logged out.</p>\n"))
	})
	return mux
}

func writeHTML(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func inubitHandler(fake *fakeinubit.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", fake)
	mux.HandleFunc("/bench/maintenance", func(w http.ResponseWriter, r *http.Request) {
		fake.SetMaintenance(r.URL.Query().Get("on") == "1")
		fmt.Fprintf(w, "maintenance=%t\n", fake.Maintenance())
	})
	mux.HandleFunc("/bench/cleared", func(w http.ResponseWriter, r *http.Request) {
		n := 0
		for _, ids := range fake.Cleared() {
			n += len(ids)
		}
		fmt.Fprintf(w, "%d\n", n)
	})
	return mux
}
