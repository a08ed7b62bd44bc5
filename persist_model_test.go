package inubitsessions

import (
	"fmt"
	"math/rand"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
	"github.com/inubit-caddy/caddy-inubit-sessions/store"
)

// A stop whose last write fails once retries it while requests that
// outlived the shutdown still end, log in and rotate sessions, which
// dispatch writes itself. The retried batch, older than those writes,
// must not land after them and write outdated records back.
func TestRetriedLastWriteDoesNotUndoLateWrites(t *testing.T) {
	inubit := fakeinubit.New(fakeinubit.Profile9XML, map[string]string{"svc": "pw"})
	srv := httptest.NewServer(inubit)
	defer srv.Close()
	dir := t.TempDir()
	st := startState(t, dir, srv.URL+fakeinubit.ClearPath)
	k, l, r, r2 := st.hasher.Key("K"), st.hasher.Key("L"), st.hasher.Key("R"), st.hasher.Key("R2")
	obs := func(key sessiontracker.Key, user, id string) {
		st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: key, HasKey: true, User: user, IDs: []string{id}})
	}
	obs(k, "", "k1") // not logged in yet
	obs(l, "alice", "l1")
	obs(r, "alice", "r1")
	time.Sleep(5 * minWriteGap) // whole records
	obs(k, "", "k2")
	obs(l, "alice", "l2")
	obs(r, "alice", "r2")
	time.Sleep(5 * minWriteGap) // appended records: K, L and R are written whole by the stop

	faulty := swapFaulty(st)
	faulty.foldFailed = make(chan struct{})
	faulty.failFold.Store(true)

	stopped := make(chan struct{})
	go func() { st.cancel(); st.done.Wait(); close(stopped) }()
	<-faulty.foldFailed // the stop's write failed; the worker sleeps 100 ms before retrying
	faulty.failFold.Store(false)
	// Requests that outlived the shutdown: K logs in with a new ID, R's
	// cookie rotates, L logs out (dispatch writes at once: closed).
	obs(k, "alice", "k3")
	st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: r, HasKey: true, NewKey: r2, HasNewKey: true, User: "alice"})
	st.dispatch(st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: l, HasKey: true, Logout: true}))
	<-stopped
	require.NoError(t, st.Destruct())

	st = startState(t, dir, srv.URL+fakeinubit.ClearPath)
	defer st.Destruct()
	assert.False(t, st.tracker.Has(l), "L ended and its end was committed, yet it is live again")
	assert.False(t, st.tracker.Has(r), "R moved to R2, yet its old record is back")
	assert.True(t, st.tracker.Has(r2))
	ended := st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: k, HasKey: true, Logout: true})
	require.NotNil(t, ended)
	var got []string
	for _, e := range ended.Entries {
		got = append(got, e.ID)
	}
	assert.ElementsMatch(t, []string{"k1", "k2", "k3"}, got, "k3 was committed by the late write")
	assert.Equal(t, "alice", ended.User)
}

// A model of the persist path under random traffic: entries added,
// sessions rotated into new or used keys, logouts, and writes (a
// quarter of them failing; some full folds; fold passes after 1-3
// records, slices of 1-5 entries). After every successful write the
// file, as a crash would leave it, must restore exactly the IDs of the
// live sessions and hold every ended session's IDs as pending.
func TestPersistModelSurvivesACrashAfterAnyWrite(t *testing.T) {
	afterRecords, slice := foldAfterRecords, foldSliceEntries
	t.Cleanup(func() { foldAfterRecords, foldSliceEntries = afterRecords, slice })
	for seed := int64(1); seed <= 150; seed++ {
		foldAfterRecords, foldSliceEntries = 1+int(seed%3), 1+int(seed%5)
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runFoldModel(t, seed) })
	}
}

func runFoldModel(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	db, err := store.OpenBolt(dir, time.Second)
	require.NoError(t, err)
	defer db.Close()
	inubit := httptest.NewServer(fakeinubit.New(fakeinubit.Profile9XML, map[string]string{"svc": "pw"}))
	defer inubit.Close()
	// The cleaner is not run: the model reads the queue from the file.
	cl, err := cleaner.New(cleaner.Config{Endpoint: inubit.URL + fakeinubit.ClearPath, Username: "svc", Password: "pw"},
		storeQueue{db}, zap.NewNop())
	require.NoError(t, err)
	st := &state{dir: dir, store: &faultyStore{Store: db, rng: rng, share: 0.25}, hasher: sessiontracker.NewHasher(db.Secret()),
		tracker: sessiontracker.New(sessiontracker.Config{IdleTimeout: 100 * time.Hour}), cleaner: cl, lastFold: time.Now()}
	ts := testSettings()
	st.settings.Store(&ts)
	st.logger.Store(zap.NewNop())
	st.tracker.SetOnEnd(st.queueEnd)

	keys := make([]sessiontracker.Key, 8)
	for i := range keys {
		keys[i] = st.hasher.Key(fmt.Sprint("cookie-", i))
	}
	live := map[sessiontracker.Key]map[string]bool{}
	ended := map[string]bool{}
	rotatedFrom := map[sessiontracker.Key]bool{}
	now := time.Now()
	nextID := 0
	newID := func() string { nextID++; return fmt.Sprintf("id-%d", nextID) }
	pickLive := func() (sessiontracker.Key, bool) {
		for _, i := range rng.Perm(len(keys)) {
			if live[keys[i]] != nil {
				return keys[i], true
			}
		}
		return sessiontracker.Key{}, false
	}
	pickUsable := func(not sessiontracker.Key) (sessiontracker.Key, bool) {
		for _, i := range rng.Perm(len(keys)) {
			if keys[i] != not && !rotatedFrom[keys[i]] {
				return keys[i], true
			}
		}
		return sessiontracker.Key{}, false
	}
	var carry store.Batch
	var ops []string
	compacted := 0
	defer func() { t.Logf("successful compact commits: %d", compacted) }()
	for step := 0; step < 300; step++ {
		now = now.Add(time.Millisecond)
		switch r := rng.Intn(100); {
		case r < 45: // a new entry
			k, ok := pickLive()
			if !ok || rng.Intn(4) == 0 {
				if k, ok = pickUsable(sessiontracker.Key{}); !ok {
					continue
				}
			}
			id := newID()
			st.tracker.Observe(now, sessiontracker.Observation{Key: k, HasKey: true, User: "alice", IDs: []string{id}})
			if live[k] == nil {
				live[k] = map[string]bool{}
			}
			live[k][id] = true
			ops = append(ops, fmt.Sprintf("add %x %s", k[:2], id))
		case r < 55: // rotation
			from, ok := pickLive()
			if !ok {
				continue
			}
			to, ok := pickUsable(from)
			if !ok {
				continue
			}
			id := newID()
			st.tracker.Observe(now, sessiontracker.Observation{Key: from, HasKey: true, NewKey: to, HasNewKey: true, User: "alice", IDs: []string{id}})
			if live[to] == nil {
				live[to] = map[string]bool{}
			}
			for x := range live[from] {
				live[to][x] = true
			}
			live[to][id] = true
			delete(live, from)
			rotatedFrom[from] = true
			ops = append(ops, fmt.Sprintf("rotate %x->%x %s", from[:2], to[:2], id))
		case r < 63: // logout
			k, ok := pickLive()
			if !ok {
				continue
			}
			require.NotNil(t, st.tracker.Observe(now, sessiontracker.Observation{Key: k, HasKey: true, Logout: true}))
			for x := range live[k] {
				ended[x] = true
			}
			delete(live, k)
			ops = append(ops, fmt.Sprintf("logout %x", k[:2]))
		default:
			fold := rng.Intn(10) == 0
			err := st.flush(&carry, false, fold)
			ops = append(ops, fmt.Sprintf("flush fold=%v err=%v folding=%v queue=%d", fold, err != nil, st.folding, len(st.foldQueue)))
			if err != nil {
				continue
			}
			if !fold && (st.folding || len(st.foldQueue) == 0) {
				compacted++
			}
			// The file as a crash right after this commit leaves it.
			image, err := os.ReadFile(filepath.Join(dir, store.FileName))
			require.NoError(t, err)
			crashed := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(crashed, store.FileName), image, 0o600))
			re, err := store.OpenBolt(crashed, time.Second)
			require.NoError(t, err)
			got := map[sessiontracker.Key]map[string]bool{}
			require.NoError(t, re.Sessions(func(s sessiontracker.Snapshot) error {
				got[s.Key] = map[string]bool{}
				for _, e := range s.Entries {
					got[s.Key][e.ID] = true
				}
				return nil
			}))
			pending, err := re.Peek("alice", 1<<30)
			require.NoError(t, err)
			require.NoError(t, re.Close())
			queued := map[string]bool{}
			for _, id := range pending {
				queued[id] = true
			}
			for id := range ended {
				if !queued[id] {
					t.Fatalf("ended %s not queued; ops:\n%v", id, ops)
				}
			}
			for k, ids := range live {
				if !assert.Equal(t, ids, got[k], "live %x; ops: %v", k[:2], ops) {
					t.FailNow()
				}
			}
			for k := range got {
				if live[k] == nil {
					t.Fatalf("stored %x is not live; ops:\n%v", k[:2], ops)
				}
			}
		}
	}
}
