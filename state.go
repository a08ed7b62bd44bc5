package inubitsessions

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
	"github.com/inubit-caddy/caddy-inubit-sessions/store"
)

// states holds one state per storage. A config reload provisions the new
// handlers before cleaning up the old ones, so the state, and with it
// the open store, every live session and queued clear, carries over to
// the new config.
var states = caddy.NewUsagePool()

// storeLockTimeout bounds the wait for a store file another process
// holds, such as a running Caddy while `caddy validate` provisions.
const storeLockTimeout = time.Second

// state is what handlers sharing a storage share: the store, the live
// sessions, the clear queue and the workers that sweep, persist and
// deliver. Its workers run from its creation until the last handler
// using it is cleaned up; they do not follow any one config's context,
// which a reload cancels.
type state struct {
	store   store.Store
	hasher  *sessiontracker.Hasher
	tracker *sessiontracker.Tracker
	cleaner *cleaner.Cleaner
	ended   chan *sessiontracker.Ended // to the persist worker

	settings atomic.Pointer[trackerSettings]
	logger   atomic.Pointer[zap.Logger]

	// untracked counts IDs seen on requests that carried no session
	// cookie and got none, so could not be attributed to a session.
	untracked atomic.Int64
	// compressed counts text responses passed unscanned because they
	// were compressed; the first one is logged.
	compressed     atomic.Int64
	compressedOnce sync.Once

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// trackerSettings are the parts of a handler's config the state's
// workers read; the latest provisioned handler's settings apply.
type trackerSettings struct {
	limits        sessiontracker.Config
	sweepInterval time.Duration
	fallbackUser  string
}

func newState(dir string, cfg cleaner.Config, ts trackerSettings, logger *zap.Logger) (*state, error) {
	db, err := store.OpenBolt(dir, storeLockTimeout)
	if err != nil {
		return nil, err
	}
	st := &state{
		store:   db,
		hasher:  sessiontracker.NewHasher(db.Secret()),
		tracker: sessiontracker.New(ts.limits),
		ended:   make(chan *sessiontracker.Ended, 1024),
	}
	st.logger.Store(logger)
	st.settings.Store(&ts)

	// live sessions of the previous run
	restored := 0
	err = db.Sessions(func(snap sessiontracker.Snapshot) error {
		st.tracker.Restore(snap)
		restored++
		return nil
	})
	if err == nil {
		st.cleaner, err = cleaner.New(cfg, storeQueue{db}, logger.Named("cleaner"))
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("loading stored state: %w", err)
	}
	if pending := st.cleaner.Pending(); restored > 0 || len(pending) > 0 {
		logger.Info("resumed stored state", zap.String("storage", dir),
			zap.Int("sessions", restored), zap.Int("users_with_pending_clears", len(pending)))
	}

	ctx, cancel := context.WithCancel(context.Background())
	st.cancel = cancel
	st.done.Add(3)
	go st.runWorker(ctx, "delivery", st.cleaner.Run)
	go st.runWorker(ctx, "sweep", st.sweep)
	go st.runWorker(ctx, "persist", st.persist)
	return st, nil
}

// configure applies a newly provisioned handler's settings.
func (st *state) configure(cfg cleaner.Config, ts trackerSettings, logger *zap.Logger) error {
	if err := st.cleaner.Configure(cfg); err != nil {
		return err
	}
	st.tracker.SetConfig(ts.limits)
	st.settings.Store(&ts)
	st.logger.Store(logger)
	return nil
}

// Destruct stops the workers, writes what is still in memory, and closes
// the store; the usage pool calls it when the last handler using this
// state is cleaned up.
func (st *state) Destruct() error {
	st.cancel()
	st.done.Wait()
	return st.store.Close()
}

// runWorker runs one worker loop, restarting it after a panic so that a
// bug in one pass cannot stop all later ones. The loop runs at least
// once, even if ctx ended first, so that it can finish its work.
func (st *state) runWorker(ctx context.Context, name string, loop func(context.Context)) {
	defer st.done.Done()
	for {
		func() {
			defer func() {
				if v := recover(); v != nil {
					st.logger.Load().Error("worker panicked; restarting it",
						zap.String("worker", name), zap.Any("panic", v),
						zap.ByteString("stack", debug.Stack()))
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
			}()
			loop(ctx)
		}()
		if ctx.Err() != nil {
			return
		}
	}
}

// sweep ends idle and expired sessions until ctx is done.
func (st *state) sweep(ctx context.Context) {
	timer := time.NewTimer(st.settings.Load().sweepInterval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		for _, ended := range st.tracker.Sweep(time.Now()) {
			st.dispatch(&ended)
		}
		timer.Reset(st.settings.Load().sweepInterval)
	}
}

// dispatch hands an ended session to the persist worker, which queues
// its entries durably and then wakes delivery. It never waits on disk.
func (st *state) dispatch(e *sessiontracker.Ended) {
	logger := st.logger.Load()
	if ce := logger.Check(zap.DebugLevel, "browser session ended"); ce != nil {
		ce.Write(zap.String("session", e.Key.Short()), zap.String("reason", string(e.Reason)),
			zap.Int("entries", len(e.Entries)), zap.String("user", e.User),
			zap.Duration("age", e.LastSeen.Sub(e.Started)))
	}
	st.ended <- e
}

// noteCompressed counts a compressed text response that was not
// scanned, and warns once per state.
func (st *state) noteCompressed(logger *zap.Logger) {
	st.compressed.Add(1)
	st.compressedOnce.Do(func() {
		logger.Warn("compressed text responses are passed through without scanning for entry IDs; " +
			"entries seen only in such pages are missed. Remove Accept-Encoding towards the upstream " +
			"(reverse_proxy { header_up -Accept-Encoding }) and compress with encode before this handler")
	})
}

// byUser groups an ended session's entries by the user to clear them
// for: the user known when collected, else the session's latest user,
// else the fallback user ("" when there is none).
func byUser(e *sessiontracker.Ended, fallback string, into map[string][]string) {
	for _, entry := range e.Entries {
		user := entry.User
		if user == "" {
			user = e.User
		}
		if user == "" {
			user = fallback
		}
		into[user] = append(into[user], entry.ID)
	}
}
