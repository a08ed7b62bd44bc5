package inubitsessions

import (
	"context"
	"errors"
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
	dir       string // storage directory
	isDefault bool   // dir was chosen by default, not configured
	store     store.Store
	hasher    *sessiontracker.Hasher
	tracker   *sessiontracker.Tracker
	cleaner   *cleaner.Cleaner

	// ended sessions wait here for the persist worker, which is woken
	// through endedSignal. Once its last write has taken them, late is
	// set: requests that outlived their server's shutdown then write
	// their changes and ends themselves (writeLate).
	endedMu     sync.Mutex
	ended       []*sessiontracker.Ended
	late        atomic.Bool
	endedSignal chan struct{}
	// flushMu makes writes to the store one at a time, from taking the
	// tracker's changes to the commit: a write taken later never lands
	// first (the persist worker's last write and late ends after it).
	flushMu sync.Mutex
	// appendedRecords counts the appended records written since the
	// last fold pass began, at lastFold. While a pass runs (folding),
	// foldQueue holds the sessions it has yet to write whole and
	// foldThrough the appended records' sequence as it began. All
	// guarded by flushMu.
	appendedRecords int
	lastFold        time.Time
	folding         bool
	foldQueue       []sessiontracker.Key
	foldThrough     uint64
	// persistCarry is the persist worker's batch whose write failed,
	// retried with its next one. It lives here, touched by that worker
	// only, so that a restart of the worker after a panic keeps it.
	persistCarry store.Batch
	// changeSignal wakes the persist worker for session changes;
	// urgentSignal also ends its pause between writes.
	changeSignal chan struct{}
	urgentSignal chan struct{}
	// sweepReset tells the sweeper that its interval changed.
	sweepReset chan struct{}

	settings atomic.Pointer[trackerSettings]
	logger   atomic.Pointer[zap.Logger]

	// attached lists the handlers using this state, oldest first; the
	// newest one's settings apply. When a reload fails, its handlers
	// detach and the running config's settings apply again.
	attachMu sync.Mutex
	attached []*attachment
	lastID   uint64

	// counts are the event counters behind the metrics that the
	// refusals and the tracker do not keep.
	counts counters
	// refused counts inputs the handler could not use, by kind.
	refused refusals
	// warned makes some refusals log once per state.
	compressedOnce, scanLimitOnce sync.Once
	// warnings about max_sessions and max_ids_without_user, at most
	// one each per warnInterval
	evictWarning, withoutUserWarning rateLimit
	// writeErrorWarning spaces the errors of a store that keeps failing.
	writeErrorWarning rateLimit
	// refusedIDsLogged is the count of IDs refused by
	// max_ids_per_session at the last warning, and when it was given.
	refusedIDsLogged   int64
	refusedIDsLoggedAt time.Time

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// trackerSettings are the parts of a handler's config the state's
// workers read; the latest provisioned handler's settings apply.
type trackerSettings struct {
	limits        sessiontracker.Config
	sweepInterval time.Duration
	fallbackUser  string
	// maxWithoutUser bounds the IDs kept without a user; 0: no bound.
	maxWithoutUser int
}

func newState(dir string, isDefault bool, cfg cleaner.Config, ts trackerSettings, logger *zap.Logger) (*state, error) {
	db, err := store.OpenBolt(dir, storeLockTimeout)
	if err != nil {
		return nil, err
	}
	st := &state{
		dir:       dir,
		isDefault: isDefault,
		store:     db,
		hasher:    sessiontracker.NewHasher(db.Secret()),
		tracker:   sessiontracker.New(ts.limits),

		endedSignal:  make(chan struct{}, 1),
		changeSignal: make(chan struct{}, 1),
		urgentSignal: make(chan struct{}, 1),
		lastFold:     time.Now(),
		sweepReset:   make(chan struct{}, 1),
	}
	st.logger.Store(logger)
	st.settings.Store(&ts)
	st.tracker.SetNotify(st.changed)
	st.tracker.SetEvict(st.evicted)
	st.tracker.SetOnEnd(st.queueEnd)

	// live sessions of the previous run
	restored := 0
	err = db.Sessions(func(snap sessiontracker.Snapshot) error {
		st.tracker.Restore(snap)
		restored++
		return nil
	})
	if damaged := (*store.DamagedError)(nil); errors.As(err, &damaged) {
		shorts := make([]string, len(damaged.Keys))
		for i, k := range damaged.Keys {
			shorts[i] = k.Short()
		}
		logger.Error("stored session records cannot be read and were passed over: those browser sessions "+
			"are not restored, and entry IDs only in those records will not be cleared by this module; "+
			"entries appended to them were queued for clearing. The rest of the store was loaded",
			zap.String("storage", dir), zap.Strings("sessions", shorts), zap.Error(damaged.Err))
		err = nil
	}
	if err == nil {
		st.cleaner, err = cleaner.New(cfg, storeQueue{db}, logger.Named("cleaner"))
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("loading stored state: %w", err)
	}
	st.tracker.EnforceMaxSessions() // max_sessions may have been lowered
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

// attachment is one provisioned handler's settings.
type attachment struct {
	id     uint64
	config <-chan struct{} // Done of the handler's config: one per config load
	cfg    cleaner.Config
	ts     trackerSettings
	tlsCA  string // the tls_ca subdirective, as configured
	logger *zap.Logger
}

// attach records a provisioned handler and applies its settings. Two
// handlers of one config that share the state must agree on all of them
// (sharedsettings.go).
func (st *state) attach(a *attachment) (uint64, error) {
	st.attachMu.Lock()
	defer st.attachMu.Unlock()
	for _, other := range st.attached {
		if other.config != a.config {
			continue
		}
		if err := a.conflictWith(other, st.dir); err != nil {
			return 0, err
		}
	}
	if err := st.configure(a.cfg, a.ts, a.logger); err != nil {
		st.configureNewest() // the running config's settings stay in force
		return 0, err
	}
	st.lastID++
	a.id = st.lastID
	st.attached = append(st.attached, a)
	return a.id, nil
}

// usedOnlyByOthers reports whether handlers are attached and none of them
// belongs to config.
func (st *state) usedOnlyByOthers(config <-chan struct{}) bool {
	st.attachMu.Lock()
	defer st.attachMu.Unlock()
	for _, a := range st.attached {
		if a.config == config {
			return false
		}
	}
	return len(st.attached) > 0
}

// detach forgets a handler; if it was the newest, the settings of the
// newest remaining handler apply again.
func (st *state) detach(id uint64) {
	st.attachMu.Lock()
	defer st.attachMu.Unlock()
	for i, a := range st.attached {
		if a.id != id {
			continue
		}
		st.attached = append(st.attached[:i], st.attached[i+1:]...)
		if i == len(st.attached) {
			st.configureNewest()
		}
		return
	}
}

// configureNewest applies the settings of the newest attached handler,
// if any: those of the running config, after a newer one went away or
// failed to attach. The caller holds attachMu.
func (st *state) configureNewest() {
	if len(st.attached) == 0 {
		return
	}
	newest := st.attached[len(st.attached)-1]
	if err := st.configure(newest.cfg, newest.ts, newest.logger); err != nil {
		newest.logger.Error("restoring the running config's delivery settings", zap.Error(err))
	}
}

// configure applies a handler's settings.
func (st *state) configure(cfg cleaner.Config, ts trackerSettings, logger *zap.Logger) error {
	if err := st.cleaner.Configure(cfg); err != nil {
		return err
	}
	st.tracker.SetConfig(ts.limits)
	st.settings.Store(&ts)
	st.logger.Store(logger)
	if ts.fallbackUser != "" {
		n, err := st.store.AdoptOrphans(ts.fallbackUser)
		if err != nil {
			return fmt.Errorf("fallback_user: queueing entries kept without a user: %w", err)
		}
		st.cleaner.AdoptedOrphans()
		if n > 0 {
			logger.Info("entries kept without a user are now queued for fallback_user",
				zap.String("user", ts.fallbackUser), zap.Int("count", n))
			st.cleaner.Queued(map[string]int{ts.fallbackUser: n})
		}
	}
	select {
	case st.sweepReset <- struct{}{}:
	default:
	}
	return nil
}

// noteLeftBehind logs what stays in the storage when a config without a
// handler on it replaces the running one (storage changed, or the handler
// removed): its sessions no longer end and its clears are not delivered
// until a config uses the storage again. They are kept on disk.
func (st *state) noteLeftBehind(logger *zap.Logger) {
	pending := st.cleaner.Stats().Pending
	sessions := st.tracker.Len()
	if sessions == 0 && pending == 0 {
		return
	}
	logger.Warn("no handler of the new config uses this storage; its live sessions and pending clears "+
		"wait there, kept on disk, until a config uses it again (set storage back to it, or keep a "+
		"handler on it until INUBIT has the clears)",
		zap.String("storage", st.dir), zap.Int("sessions", sessions), zap.Int("ids_pending", pending))
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
		case <-st.sweepReset:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-timer.C:
			st.warnFullSessions()
			swept := st.tracker.Sweep(time.Now())
			ended := make([]*sessiontracker.Ended, len(swept))
			for i := range swept {
				ended[i] = &swept[i]
			}
			st.dispatch(ended...)
		}
		timer.Reset(st.settings.Load().sweepInterval)
	}
}

// dispatch hands ended sessions to the persist worker, which queues
// their entries durably and then wakes delivery. It never waits on disk,
// except after the state has stopped, when it writes them itself.
func (st *state) dispatch(ended ...*sessiontracker.Ended) {
	logger := st.logger.Load()
	for _, e := range ended {
		st.countEnded(e.Reason)
		if ce := logger.Check(zap.DebugLevel, "browser session ended"); ce != nil {
			ce.Write(zap.String("session", e.Key.Short()), zap.String("reason", string(e.Reason)),
				zap.Int("entries", len(e.Entries)), zap.String("user", e.User),
				zap.Duration("age", time.Since(e.Started)), zap.Duration("idle", time.Since(e.LastSeen)))
		}
	}
	if st.late.Load() {
		st.writeLate()
		return
	}
	select {
	case st.endedSignal <- struct{}{}:
	default:
	}
}

// observed follows a request's Observe: an ended session goes to
// dispatch, and after the persist worker's last write, when no worker
// would write a live session's change, the request writes it itself.
func (st *state) observed(ended *sessiontracker.Ended) {
	if ended != nil {
		st.dispatch(ended)
	} else if st.late.Load() {
		st.writeLate()
	}
}

// writeLate writes what requests that outlived their server's shutdown
// changed or ended. The worker has stopped, so nothing retries a failed
// write: it is reported instead.
func (st *state) writeLate() {
	var carry store.Batch
	if err := st.flush(&carry, false, false); err != nil {
		st.reportUnsaved(carry, err)
	}
}

// queueEnd queues an ended session for the persist worker. The tracker
// calls it while the session's key is locked, so an end is queued before
// a later session under its key can be handed out for writing, and so
// written no later than that session's record (flush takes ends after
// the tracker's changes).
func (st *state) queueEnd(e *sessiontracker.Ended) {
	st.endedMu.Lock()
	st.ended = append(st.ended, e)
	st.endedMu.Unlock()
}

// warnInterval is the least time between two warnings that a bound was
// reached.
const warnInterval = time.Minute

// rateLimit lets an event through at most once per warnInterval.
type rateLimit struct{ last atomic.Int64 }

// allow reports whether the event may happen now, and if so notes it.
func (l *rateLimit) allow() bool {
	now := time.Now().UnixNano()
	last := l.last.Load()
	return now-last >= int64(warnInterval) && l.last.CompareAndSwap(last, now)
}

// evicted queues sessions the tracker ended to keep within max_sessions,
// warning at most once a minute.
func (st *state) evicted(ended []sessiontracker.Ended) {
	if st.evictWarning.allow() {
		st.logger.Load().Warn("max_sessions reached: the least recently seen sessions were ended early "+
			"and their entries queued for clearing. Raise max_sessions if this is normal traffic, "+
			"or look for a client inventing session cookies",
			zap.Int("ended_now", len(ended)), zap.Int64("ended_since_start", st.tracker.Counts().Evicted))
	}
	batch := make([]*sessiontracker.Ended, len(ended))
	for i := range ended {
		batch[i] = &ended[i]
	}
	st.dispatch(batch...)
}

// warnFullSessions warns, at most once a minute, when sessions refused
// entry IDs because they reached max_ids_per_session. Only the sweeper
// calls it.
func (st *state) warnFullSessions() {
	refused := st.tracker.Counts().RefusedIDs
	if refused == st.refusedIDsLogged || time.Since(st.refusedIDsLoggedAt) < warnInterval {
		return
	}
	st.logger.Load().Warn("sessions reached max_ids_per_session: further entry IDs of those sessions are not "+
		"collected and stay in INUBIT's queue. Raise max_ids_per_session if users really open that many forms",
		zap.Int64("refused_since_last_warning", refused-st.refusedIDsLogged),
		zap.Int64("refused_since_start", refused))
	st.refusedIDsLogged, st.refusedIDsLoggedAt = refused, time.Now()
}

// noteCompressed counts a compressed text response that was not
// scanned, and warns once per state.
func (st *state) noteCompressed(logger *zap.Logger) {
	st.refused.add(refusedCompressed, 1)
	st.compressedOnce.Do(func() {
		logger.Warn("text responses in an encoding other than gzip or deflate (br, zstd) are passed " +
			"through without scanning for entry IDs; entries seen only in such pages are missed. " +
			"Remove Accept-Encoding towards the upstream (reverse_proxy { header_up -Accept-Encoding }) " +
			"and compress with encode, which runs outside this handler")
	})
}

// noteScanLimit counts a response body scanned only up to max_scan_bytes
// and warns once per state.
func (st *state) noteScanLimit(logger *zap.Logger, limit int64) {
	st.refused.add(refusedScanLimit, 1)
	st.scanLimitOnce.Do(func() {
		logger.Warn("a response body was longer than max_scan_bytes; entry IDs past that point are "+
			"not collected (counted as refused kind scan_limit). Raise max_scan_bytes if INUBIT pages are that large",
			zap.Int64("max_scan_bytes", limit))
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
