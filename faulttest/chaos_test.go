package faulttest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Chaos run sizes: browsers at work, how long they start new rounds,
// and how long INUBIT may take afterwards to get every ID.
const (
	chaosBrowsers = 8
	chaosRun      = 24 * time.Second
	chaosDrain    = 30 * time.Second
	chaosMaxKills = 15
)

// TestChaos: browsers log in, open one to three forms and log out, over
// and over, while Caddy is killed with SIGKILL every two to four seconds
// and started again on the same ports and storage. A browser retries a
// failed request after a short pause; a logout is retried until it gets
// an answer. In the end every ID a browser received in a form page must
// have been cleared, for its user, except what the handler learnt in the
// documented window before a kill (README: a SIGKILL loses what was not
// yet written, within FlushInterval); those are counted, not failed.
// idle_timeout is short so that sessions whose logout was killed before
// it was written come back and end by idle time within the drain.
func TestChaos(t *testing.T) {
	st := newStack(t, servicePass)
	st.caddy.change(func(s *site) {
		s.debugLog = true
		s.idle = "3s"
	})
	st.caddy.mustStart(t)
	rec := &chaosRecord{}
	start := time.Now()
	stopRounds := start.Add(chaosRun)
	giveUp := stopRounds.Add(30 * time.Second)

	killer := make(chan error, 1)
	go func() { killer <- st.killRepeatedly(rec, stopRounds) }()
	var wg sync.WaitGroup
	errs := make(chan error, chaosBrowsers)
	for i := range chaosBrowsers {
		b := st.browser(t, fmt.Sprintf("chaos%d", i))
		wg.Go(func() {
			for n := 0; n < 1000 && time.Now().Before(stopRounds); n++ {
				if err := rec.round(b, giveUp); err != nil {
					errs <- fmt.Errorf("%s: %w", b.user, err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, <-killer, "killing and restarting Caddy")
	close(errs)
	for err := range errs {
		require.NoError(t, err, "a browser gave up")
	}
	roundsDone := time.Now()

	seen := rec.seenIDs()
	// Wait until every ID is cleared, or until nothing new was cleared
	// for a few seconds (the rest are reported below).
	missing := func() int {
		cleared, n := st.fake.Cleared(), 0
		for id := range seen {
			if !slices.Contains(cleared[seen[id].user], id) {
				n++
			}
		}
		return n
	}
	var err error
	lastCount, lastChange := -1, time.Now()
	for deadline := time.Now().Add(chaosDrain); ; time.Sleep(200 * time.Millisecond) {
		n := missing()
		if n != lastCount {
			lastCount, lastChange = n, time.Now()
		}
		if n == 0 || time.Since(lastChange) > 8*time.Second {
			break
		}
		if time.Now().After(deadline) {
			err = fmt.Errorf("%d IDs still missing and still changing after %s", n, chaosDrain)
			break
		}
	}
	drained := time.Since(roundsDone)
	time.Sleep(500 * time.Millisecond) // let stray repeats land before counting

	rec.report(t, st, seen)
	figure(t, "chaos_drain", drained)
	figure(t, "chaos_total", time.Since(start))
	assert.NoError(t, err, "the clears settled within %s", chaosDrain)
	assert.NotContains(t, st.caddy.log(), "worker panicked")
}

// chaosRecord collects what the browsers and the killer did.
type chaosRecord struct {
	mu       sync.Mutex
	rounds   []*chaosRound
	kills    []time.Time
	ready    []time.Duration
	failures int
}

// chaosRound is one login-forms-logout round of one browser, with the
// times its answers arrived.
type chaosRound struct {
	user     string
	login    time.Time
	ids      []string
	idAt     []time.Time
	logout   time.Time
	failures int
}

// seenInfo says who received an ID, when, and in which round.
type seenInfo struct {
	user  string
	at    time.Time
	round *chaosRound
}

// killRepeatedly kills Caddy every two to four seconds until stop and
// starts it again each time; Caddy is running when it returns.
func (st *stack) killRepeatedly(rec *chaosRecord, stop time.Time) error {
	for range chaosMaxKills {
		pause := 2*time.Second + rand.N(2*time.Second)
		if time.Now().Add(pause).After(stop) {
			return nil
		}
		time.Sleep(pause)
		killed := time.Now()
		if _, err := st.caddy.signal(syscall.SIGKILL, 5*time.Second); err != nil {
			return err
		}
		if err := st.caddy.start(); err != nil {
			return err
		}
		rec.mu.Lock()
		rec.kills = append(rec.kills, killed)
		rec.ready = append(rec.ready, time.Since(killed))
		rec.mu.Unlock()
	}
	return nil
}

// round plays one round for b, retrying each step until giveUp. The
// round records when each answer arrived, before the browser's think
// time.
func (rec *chaosRecord) round(b *browser, giveUp time.Time) error {
	r := &chaosRound{user: b.user}
	defer rec.add(r)
	step := func(name string, f func() error) error {
		failed, err := retry(400, 100*time.Millisecond, giveUp, f)
		r.failures += failed
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		time.Sleep(10*time.Millisecond + rand.N(40*time.Millisecond)) // think
		return nil
	}
	stamp := func(f func() error, at *time.Time) func() error {
		return func() error {
			err := f()
			*at = time.Now()
			return err
		}
	}

	if err := step("home", b.home); err != nil {
		return err
	}
	if err := step("login", stamp(b.login, &r.login)); err != nil {
		return err
	}
	forms := 1 + rand.IntN(3)
	for i := range forms {
		err := step("open form", func() error {
			id, err := b.openForm(i)
			if err == nil {
				r.ids = append(r.ids, id)
				r.idAt = append(r.idAt, time.Now())
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return step("logout", stamp(b.logout, &r.logout))
}

func (rec *chaosRecord) add(r *chaosRound) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.rounds = append(rec.rounds, r)
	rec.failures += r.failures
}

// seenIDs maps every ID a browser received to who received it.
func (rec *chaosRecord) seenIDs() map[string]seenInfo {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seen := make(map[string]seenInfo)
	for _, r := range rec.rounds {
		for i, id := range r.ids {
			seen[id] = seenInfo{user: r.user, at: r.idAt[i], round: r}
		}
	}
	return seen
}

// stampSlack covers a kill stamped before the browser stamped an
// answer the old process had already sent: the two read the clock
// separately, and a busy test binary reads late. A restart takes over
// 60 ms, so an answer this close after a kill still came from the
// process killed.
const stampSlack = 30 * time.Millisecond

// nextKill returns how long after at the next kill came, or -1.
func (rec *chaosRecord) nextKill(at time.Time) time.Duration {
	for _, k := range rec.kills {
		if !k.Before(at.Add(-stampSlack)) {
			return max(k.Sub(at), 0)
		}
	}
	return -1
}
