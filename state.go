package inubitsessions

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// states holds one state per storage. A config reload provisions the new
// handlers before cleaning up the old ones, so the state, and with it
// every live session and queued clear, carries over to the new config.
var states = caddy.NewUsagePool()

// state is what handlers sharing a storage share: the live sessions, the
// clear queue and the workers that sweep and deliver. Its workers run
// from its creation until the last handler using it is cleaned up; they
// do not follow any one config's context, which a reload cancels.
type state struct {
	hasher  *sessiontracker.Hasher
	tracker *sessiontracker.Tracker
	cleaner *cleaner.Cleaner

	settings atomic.Pointer[trackerSettings]
	logger   atomic.Pointer[zap.Logger]

	// untracked counts IDs seen on requests that carried no session
	// cookie and got none, so could not be attributed to a session.
	untracked atomic.Int64

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

func newState(cfg cleaner.Config, logger *zap.Logger) (*state, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("creating session hash key: %w", err)
	}
	cl, err := cleaner.New(cfg, logger.Named("cleaner"))
	if err != nil {
		return nil, err
	}
	st := &state{
		hasher:  sessiontracker.NewHasher(secret),
		tracker: sessiontracker.New(sessiontracker.Config{}),
		cleaner: cl,
	}
	st.logger.Store(logger)
	st.settings.Store(&trackerSettings{sweepInterval: time.Minute})

	ctx, cancel := context.WithCancel(context.Background())
	st.cancel = cancel
	st.done.Add(2)
	go st.runWorker(ctx, "delivery", st.cleaner.Run)
	go st.runWorker(ctx, "sweep", st.sweep)
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

// Destruct stops the workers; the usage pool calls it when the last
// handler using this state is cleaned up.
func (st *state) Destruct() error {
	st.cancel()
	st.done.Wait()
	return nil
}

// runWorker runs one worker loop, restarting it after a panic so that a
// bug in one delivery cannot stop all later ones.
func (st *state) runWorker(ctx context.Context, name string, loop func(context.Context)) {
	defer st.done.Done()
	for ctx.Err() == nil {
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

// dispatch queues an ended session's entries for clearing, each for the
// user known when it was collected, else the session's latest user, else
// the fallback user.
func (st *state) dispatch(e *sessiontracker.Ended) {
	logger := st.logger.Load()
	if ce := logger.Check(zap.DebugLevel, "browser session ended"); ce != nil {
		ce.Write(zap.String("session", e.Key.Short()), zap.String("reason", string(e.Reason)),
			zap.Int("entries", len(e.Entries)), zap.String("user", e.User),
			zap.Duration("age", e.LastSeen.Sub(e.Started)))
	}
	if len(e.Entries) == 0 {
		return
	}
	fallback := st.settings.Load().fallbackUser
	byUser := make(map[string][]string, 1)
	for _, entry := range e.Entries {
		user := entry.User
		if user == "" {
			user = e.User
		}
		if user == "" {
			user = fallback
		}
		byUser[user] = append(byUser[user], entry.ID)
	}
	for user, ids := range byUser {
		st.cleaner.Enqueue(user, ids)
	}
}
