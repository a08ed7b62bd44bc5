package inubitsessions

import (
	"cmp"
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
	"github.com/inubit-caddy/caddy-inubit-sessions/store"
)

// FlushInterval bounds how long a collected entry ID or a new session
// stays only in memory before it is written to the store. Changes are
// written as soon as the previous write is done, at most every
// minWriteGap, so under ordinary load the window is a few milliseconds;
// FlushInterval also catches changes that signal nothing (activity
// times). Ended sessions are written the same way, and their entries
// reach the clear queue only after that write is synced.
const FlushInterval = 100 * time.Millisecond

// minWriteGap spaces the store's writes, so that a busy site groups many
// requests' changes into one synced write instead of syncing per request.
const minWriteGap = 10 * time.Millisecond

// New entries of stored sessions are written as small appended records
// (see package store); a fold pass writes those sessions whole again
// and drops the records, once foldAfterRecords have been written or
// foldInterval has passed since the last pass began. A pass writes the
// sessions in slices of about foldSliceEntries entries, one slice per
// write, so that each write stays small (about 1.5 MB) however many
// sessions and entries there are; the worker's last write at a stop
// folds whatever is left at once. Between passes the appended records
// cost disk (about 100 bytes each) and a little time at the next start,
// nothing else.
var (
	foldAfterRecords = 50_000
	foldInterval     = 5 * time.Minute
	foldSliceEntries = 20_000
)

// persist writes session changes and ended sessions to the store, in
// groups, until ctx is done; then it writes what is left.
func (st *state) persist(ctx context.Context) {
	ticker := time.NewTicker(FlushInterval)
	defer ticker.Stop()
	gap := time.NewTimer(0)
	defer gap.Stop()
	carry := &st.persistCarry // a batch whose write failed, retried with the next
	failedWrites := 0         // since the last error logged
	for {
		select {
		case <-ctx.Done():
			st.finalFlush(carry)
			return
		case <-st.endedSignal:
		case <-st.changeSignal:
		case <-ticker.C:
		}
		if err := st.flush(carry, false, false); err != nil {
			// Kept in memory and retried with the next group; nothing is
			// dropped, but a crash now would lose this group.
			failedWrites++
			if st.writeErrorWarning.allow() {
				st.logger.Load().Error("cannot write session state; will retry",
					zap.Int("sessions", len(carry.Sessions)), zap.Int("ended", len(carry.Ended)),
					zap.Int("failed_writes_since_last_log", failedWrites), zap.Error(err))
				failedWrites = 0
			}
		}

		// let the next changes gather for a moment, unless one is
		// urgent (a login, a new session, a rotation)
		gap.Reset(minWriteGap)
		select {
		case <-ctx.Done():
		case <-gap.C:
		case <-st.urgentSignal:
		}
	}
}

// finalRetries are the pauses between the attempts of the worker's last
// write, made when its state stops. They are short: a stop waits for
// them, and a store that fails for more than a second or two is not
// coming back before the process ends.
var finalRetries = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, time.Second}

// finalFlush writes what is left when the worker stops, folding the
// appended records, and retries a failed write a few times without the
// fold. What still cannot be written is logged with its entry IDs: after
// this the state is gone, and the log is the only record an operator has
// of the forms to clear by hand.
func (st *state) finalFlush(carry *store.Batch) {
	// flushMu is held through the pauses: a late end written by dispatch
	// meanwhile would otherwise land before this older batch, which
	// would then write outdated records over it.
	st.flushMu.Lock()
	defer st.flushMu.Unlock()
	err := st.flushLocked(carry, true, true)
	for _, pause := range finalRetries {
		if err == nil {
			return
		}
		time.Sleep(pause)
		// Retried without the fold: the sessions' whole records it
		// carries are what matters, and a smaller write may pass where
		// the fold's did not (a nearly full disk, a file size limit).
		// The next start folds.
		carry.Fold = false
		err = st.flushLocked(carry, true, false)
	}
	if err != nil {
		st.reportUnsaved(*carry, err)
	}
}

// reportUnsaved logs a write that will not be retried: the entry IDs of
// the ended sessions it held, per user (they were to be cleared), and
// those of the live sessions it held (the next run may not know them:
// they are cleared only if the browser shows them again).
func (st *state) reportUnsaved(b store.Batch, err error) {
	ids := 0
	for _, userIDs := range b.Pending {
		ids += len(userIDs)
	}
	live := make(map[sessiontracker.Key]bool)
	liveIDs := make(map[string][]string)
	sessionUser := make(map[sessiontracker.Key]string)
	for _, s := range b.Sessions {
		live[s.Key] = true
		sessionUser[s.Key] = s.User
		for _, e := range s.Entries {
			user := cmp.Or(e.User, s.User)
			liveIDs[user] = append(liveIDs[user], e.ID)
		}
	}
	for _, a := range b.Appended {
		live[a.Key] = true
		for _, e := range a.Entries {
			// An entry shown by a request without a user is cleared as
			// its session's user, so it is listed under that user.
			user := e.User
			if user == "" {
				held, ok := sessionUser[a.Key]
				if !ok {
					held = st.tracker.User(a.Key)
				}
				user = held
			}
			liveIDs[user] = append(liveIDs[user], e.ID)
		}
	}
	st.logger.Load().Error("session state not written and not retried: the entry IDs of these ended sessions "+
		"will not be cleared by this module; clear them in INUBIT's Queue Manager, then fix the storage",
		zap.Int("ended_sessions", len(b.Ended)), zap.Int("entry_ids", ids), zap.Any("entry_ids_by_user", b.Pending),
		zap.Int("live_sessions_not_saved", len(live)), zap.Any("live_session_entry_ids_by_user", liveIDs),
		zap.Error(err))
}

// changed wakes the persist worker; the tracker calls it when a session
// gains something worth storing. An urgent change also cuts short the
// pause between writes.
func (st *state) changed(urgent bool) {
	select {
	case st.changeSignal <- struct{}{}:
	default:
	}
	if urgent {
		select {
		case st.urgentSignal <- struct{}{}:
		default:
		}
	}
}

// takeEnded returns the ended sessions waiting to be written; with last
// set, later ones are written by dispatch itself. flush calls it after
// taking the tracker's changes: every end queued before a later
// session's record was taken is then in the same write (see queueEnd).
func (st *state) takeEnded(last bool) []*sessiontracker.Ended {
	st.endedMu.Lock()
	defer st.endedMu.Unlock()
	ended := st.ended
	st.ended = nil
	if last {
		st.late.Store(true)
	}
	return ended
}

// flush writes one group: what carried over from a failed write, the
// tracker's changes, and the ended sessions with their entries queued
// for clearing (last: the worker's final write, after which dispatch
// writes late ends itself). With fold set it folds every appended entry
// into its session; otherwise it writes the next slice of a fold pass
// when one runs or is due (see foldSlice). Only after the write
// succeeds is delivery woken. A failed write stays in carry, and its
// error is returned for the caller to retry or report.
func (st *state) flush(carry *store.Batch, last, fold bool) error {
	st.flushMu.Lock()
	defer st.flushMu.Unlock()
	return st.flushLocked(carry, last, fold)
}

// flushLocked is flush for a caller holding flushMu.
func (st *state) flushLocked(carry *store.Batch, last, fold bool) error {
	// After the stop's first write (late) no pass runs: that write folded
	// everything, or failed, and then the sessions' flags no longer say
	// which records a pass would have to write whole before dropping.
	var drop uint64
	if !fold && !st.late.Load() {
		drop = st.foldSlice()
	}
	changes := st.tracker.TakeChanges(fold)
	ended := st.takeEnded(last)
	// A session can end between TakeChanges and takeEnded, so that now
	// both writes and ends it: the store then only ends it.
	now := store.Batch{Sessions: changes.Sessions, Appended: changes.Appended, Deleted: changes.Deleted,
		Fold: fold, DropAppendedThrough: drop}
	if len(ended) > 0 {
		now.Pending = make(map[string][]string)
	}
	settings := st.settings.Load()
	for _, e := range ended {
		now.Ended = append(now.Ended, store.EndedSession{Key: e.Key, Started: e.Started})
		byUser(e, settings.fallbackUser, now.Pending)
	}
	st.limitWithoutUser(now.Pending, settings.maxWithoutUser)
	b := *carry
	b.Merge(now)
	if b.Empty() {
		return nil
	}
	added, err := st.store.Commit(b)
	if err != nil {
		*carry = b
		return err
	}
	switch {
	case b.Fold:
		st.appendedRecords, st.lastFold = 0, time.Now()
		st.folding, st.foldQueue = false, nil
	case st.folding && b.DropAppendedThrough == st.foldThrough:
		st.folding = false // the pass's last slice is written
	}
	st.appendedRecords += len(b.Appended)
	*carry = store.Batch{}
	st.cleaner.Queued(added)
	return nil
}

// foldSlice starts a fold pass when one is due and has the tracker hand
// out the pass's next slice of sessions whole. With the last slice it
// returns the sequence through which the appended records can go: every
// session that had any when the pass began is then written whole. The
// caller holds flushMu.
func (st *state) foldSlice() (dropThrough uint64) {
	if !st.folding && (st.appendedRecords >= foldAfterRecords ||
		st.appendedRecords > 0 && time.Since(st.lastFold) >= foldInterval) {
		seq, err := st.store.AppendedSequence()
		if err != nil {
			return 0 // tried again with the next write
		}
		// The sessions listed now have every record up to seq; records
		// written from now on count towards the next pass.
		st.folding, st.foldThrough, st.foldQueue = true, seq, st.tracker.AppendedKeys()
		st.appendedRecords, st.lastFold = 0, time.Now()
	}
	if !st.folding {
		return 0
	}
	if st.foldQueue = st.tracker.RewriteWhole(st.foldQueue, foldSliceEntries); len(st.foldQueue) == 0 {
		return st.foldThrough
	}
	return 0
}

// limitWithoutUser keeps the IDs without a user within limit, refusing
// (counting, and warning about at most once a minute) the newest ones
// past it: they could never be cleared without a user, and anyone can
// make sessions that show none.
func (st *state) limitWithoutUser(pending map[string][]string, limit int) {
	ids := pending[""]
	if limit <= 0 || len(ids) == 0 {
		return
	}
	room := min(len(ids), max(0, limit-st.cleaner.WithoutUser()))
	if room == len(ids) {
		return
	}
	pending[""] = ids[:room]
	if room == 0 {
		delete(pending, "")
	}
	dropped := len(ids) - room
	st.refused.add(refusedWithoutUser, dropped)
	if st.withoutUserWarning.allow() {
		st.logger.Load().Warn("max_ids_without_user reached: entry IDs of sessions that showed no user are no "+
			"longer kept (they could not be cleared without a user). Configure user or fallback_user; "+
			"many such sessions may also mean a client inventing cookies",
			zap.Int("refused_now", dropped), zap.Int("max_ids_without_user", limit))
	}
}

// storeQueue lets the cleaner read, acknowledge and park the store's
// pending clears; the store's Commit serves as its Add.
type storeQueue struct{ store.Store }

// Add implements cleaner.Queue.
func (q storeQueue) Add(pending map[string][]string) (map[string]int, error) {
	return q.Commit(store.Batch{Pending: pending})
}

// ParkedCount implements cleaner.Queue.
func (q storeQueue) ParkedCount() (int, error) {
	parked, err := q.Parked()
	return len(parked), err
}
