// Package sessiontracker remembers, per browser session, the INUBIT Queue
// Manager entry IDs the session touched, and tells when a session has
// ended. It knows nothing about HTTP or Caddy: callers report what each
// request showed (an Observation) and sweep regularly for sessions that
// went idle or lived too long.
package sessiontracker

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Reason says why a session ended.
type Reason string

// The reasons a session ends.
const (
	ReasonLogout        Reason = "logout"         // a request matched a logout route
	ReasonCookieDeleted Reason = "cookie_deleted" // the upstream expired the session cookie
	ReasonIdle          Reason = "idle"           // no request for the idle timeout
	ReasonMaxLifetime   Reason = "max_lifetime"   // the session outlived the maximum lifetime
	ReasonEvicted       Reason = "evicted"        // ended early to keep within MaxSessions
)

// Entry is one collected entry ID with the user known when it was
// collected ("" when none was known yet).
type Entry struct {
	ID   string
	User string
}

// Ended describes a session that has ended, with everything it collected.
type Ended struct {
	Key      Key
	Reason   Reason
	User     string // the latest user the session showed, "" if none
	Started  time.Time
	LastSeen time.Time
	Entries  []Entry
}

// Observation is what one request and its response showed about a
// session.
type Observation struct {
	// Key of the session cookie the request carried; valid if HasKey.
	Key    Key
	HasKey bool

	// NewKey is the session cookie value the response set, if HasNewKey.
	// A new value for a tracked session is a rotation: the entries follow.
	NewKey    Key
	HasNewKey bool

	// CookieDeleted is true when the response expired the session cookie.
	CookieDeleted bool

	// Logout is true when the request matched a logout route.
	Logout bool

	// User seen on this request, "" if none.
	User string

	// IDs seen in the request or its response.
	IDs []string

	// Live is what Touch returned for Key, if the request was touched:
	// it spares Observe a second lookup of the same session.
	Live Live
}

// Live is a session that Touch found, for the same request's Observe.
// The zero Live stands for none.
type Live struct{ s *session }

// Found reports whether Touch found the session live.
func (l Live) Found() bool { return l.s != nil }

// Config holds the limits that end sessions.
type Config struct {
	// IdleTimeout ends a session that saw no request for this long.
	// Zero disables it.
	IdleTimeout time.Duration
	// MaxLifetime ends a session this long after its first request.
	// Zero disables it.
	MaxLifetime time.Duration
	// MaxSessions bounds the live sessions. When a new session would
	// exceed it, the least recently seen sessions are ended early (with
	// ReasonEvicted) and handed to the evict function, so that their
	// entries are cleared, not lost. Zero: no bound.
	MaxSessions int
	// MaxIDsPerSession bounds the entries one session keeps; further
	// IDs are refused and counted. Zero: no bound.
	MaxIDsPerSession int
}

const shardCount = 32

// Tracker holds the live sessions. It is safe for concurrent use.
type Tracker struct {
	cfg atomic.Pointer[Config]

	// notify, if set, is called (under a shard lock, so it must not
	// block) whenever a session changed in a way worth storing; urgent
	// for what a crash must least lose (see SetNotify).
	notify func(urgent bool)
	// evict receives the sessions ended to keep within MaxSessions.
	evict func([]Ended)
	// onEnd, if set, sees every session that ends, under its shard's
	// lock (see SetOnEnd).
	onEnd func(*Ended)
	// evictMu lets one caller at a time trim the sessions.
	evictMu sync.Mutex

	// rotated leads old cookie values to their rotated sessions.
	rotated rotations
	// moving is held for reading by a rotation, which changes two
	// shards, and for writing by TakeChanges, so that the store gets
	// both halves of a rotation in one write, never the deletion of the
	// old record before the new one exists.
	moving sync.RWMutex

	live       atomic.Int64 // sessions in all shards
	refusedIDs atomic.Int64 // IDs refused by MaxIDsPerSession
	evicted    atomic.Int64 // sessions ended by MaxSessions

	shards [shardCount]shard
}

// Counts are the Tracker's running totals.
type Counts struct {
	Live       int64 // sessions tracked now
	RefusedIDs int64 // IDs refused since start because a session was full
	Evicted    int64 // sessions ended early since start to keep within MaxSessions
}

// Counts returns the running totals.
func (t *Tracker) Counts() Counts {
	return Counts{Live: t.live.Load(), RefusedIDs: t.refusedIDs.Load(), Evicted: t.evicted.Load()}
}

type shard struct {
	mu       sync.Mutex
	sessions table
	// changed lists sessions the store must learn of, and what.
	changed map[Key]change
}

type session struct {
	key       Key
	started   time.Time
	lastSeen  time.Time
	savedSeen time.Time // lastSeen as last handed out by TakeChanges
	// savedEntries is how many of entries TakeChanges has handed out;
	// appended is set when some went out as Appended since the last
	// whole record.
	savedEntries int
	appended     bool
	requests     uint32 // requests seen, up to 2: one-request sessions are evicted first
	user         string
	entries      []Entry
	// idHashes holds idHash of each entry's ID, in the same order: a
	// request that shows an ID the session holds compares these before
	// any ID's bytes, which live in allocations of their own.
	idHashes []uint64
	// gone is set, under the shard's lock, when the session leaves its
	// shard (ended, or moved to a rotated key as a copy): a Live that
	// still points at it then falls back to a lookup.
	gone bool
}

// New returns an empty Tracker.
func New(cfg Config) *Tracker {
	t := &Tracker{}
	t.cfg.Store(&cfg)
	for i := range t.shards {
		t.shards[i].changed = make(map[Key]change)
	}
	return t
}

// SetNotify sets a function called whenever a session gains a change
// worth storing; it must return at once (a non-blocking channel send).
// urgent marks a new session, a new user or a rotated cookie: losing one
// of those in a crash loses more than itself (every later entry of the
// session would lack its user, or its session), so they are worth a
// write of their own. Call it before the Tracker is used.
func (t *Tracker) SetNotify(fn func(urgent bool)) { t.notify = fn }

// SetEvict sets the function that receives sessions ended early to keep
// within MaxSessions. It is called outside the Tracker's locks, by the
// goroutine whose new session went over the bound. Call it before the
// Tracker is used.
func (t *Tracker) SetEvict(fn func([]Ended)) { t.evict = fn }

// SetOnEnd sets a function called with every session that ends (logout,
// cookie deleted, idle, max lifetime, evicted), complete with its
// entries, while its key is still locked: before any later session can
// take the key, and so before TakeChanges can hand out a record of one.
// A store that queues ends this way writes an end no later than a later
// session's record under the same key. It must return at once and not
// call the Tracker. Call it before the Tracker is used.
func (t *Tracker) SetOnEnd(fn func(*Ended)) { t.onEnd = fn }

// drop removes the session of k from sh, whose lock the caller holds,
// because it ended, and returns it (nil if none was live): a Live of it
// falls back to a lookup, and the store learns of the end from Ended,
// not from the shard's changes (except a moved session's old record,
// which must still go).
func (t *Tracker) drop(sh *shard, k Key) *session {
	s := sh.sessions.remove(k)
	if s != nil {
		s.gone = true
		t.live.Add(-1)
	}
	sh.forget(k)
	return s
}

// ending builds the Ended of s and shows it to onEnd; the shard of k
// must be locked.
func (t *Tracker) ending(s *session, k Key, reason Reason) *Ended {
	e := s.ended(k, reason)
	if t.onEnd != nil {
		t.onEnd(e)
	}
	return e
}

// SetConfig replaces the limits; they apply to live sessions at the next
// sweep.
func (t *Tracker) SetConfig(cfg Config) { t.cfg.Store(&cfg) }

// config is read on every request: an atomic load, no lock.
func (t *Tracker) config() *Config { return t.cfg.Load() }

func (t *Tracker) shardOf(k Key) *shard { return &t.shards[k[0]%shardCount] }

// Len returns the number of live sessions.
func (t *Tracker) Len() int { return int(t.live.Load()) }

// Observe records what one request showed. It returns the session that
// this request ended, if any. An observation without any session key is
// ignored: there is nothing to attach its IDs to.
func (t *Tracker) Observe(now time.Time, obs Observation) *Ended {
	if obs.Logout || obs.CookieDeleted {
		var ended *Ended
		if obs.HasKey {
			ended = t.end(now, obs)
		}
		if obs.HasNewKey && (!obs.HasKey || obs.NewKey != obs.Key) {
			// The upstream ended one session and started the next
			// one in the same response.
			if _, created := t.touch(now, obs.NewKey, obs.User, nil, obs.User != "", Live{}); created {
				t.enforceMaxSessions()
			}
		}
		return ended
	}
	current, ok := obs.Key, obs.HasKey
	if obs.HasNewKey {
		if ok && obs.NewKey != obs.Key {
			t.rotate(now, obs.Key, obs.NewKey)
		}
		current, ok = obs.NewKey, true
	}
	if ok {
		// A cookie that never came with an entry or a user needs no
		// session, even one the upstream just set: this keeps floods
		// of made-up cookie values, and of cookieless requests that
		// each get a new one, out of memory and the store.
		create := obs.User != "" || len(obs.IDs) > 0
		if create && !obs.HasNewKey {
			// Try the live session first: one lock in the common case.
			if found, _ := t.touch(now, current, obs.User, obs.IDs, false, obs.Live); found {
				return nil
			}
			// A request that was in flight while its cookie rotated.
			if to, ok := t.rotated.follow(current, now); ok {
				current = to
			}
		}
		if _, created := t.touch(now, current, obs.User, obs.IDs, create, Live{}); created {
			t.enforceMaxSessions()
		}
	}
	return nil
}

// Touch marks a live session as active at now, without creating one. It
// is called when a request starts, so that a long request (a stream, an
// upload) keeps its session from going idle. It reports whether the
// session is live and the user it holds: a request that then shows
// nothing new (same user or none, no ID, no cookie change) needs no
// Observe, which would only repeat this.
func (t *Tracker) Touch(now time.Time, k Key) (live Live, user string) {
	sh := t.shardOf(k)
	sh.mu.Lock()
	s := sh.sessions.get(k)
	if s != nil {
		live, user = Live{s}, s.user
		if s.requests < 2 {
			s.requests++
		}
		if now.After(s.lastSeen) {
			s.lastSeen = now
			if s.lastSeen.Sub(s.savedSeen) >= t.seenResolution() {
				sh.mark(k, changeRecord)
			}
		}
	}
	sh.mu.Unlock()
	return live, user
}

// touch refreshes a session, creating it if create is set, and adds the
// IDs to it. It reports whether the session was there and whether it
// created it. live, unless gone since, is the session of k that Touch
// found for the same request.
func (t *Tracker) touch(now time.Time, k Key, user string, ids []string, create bool, live Live) (found, created bool) {
	limit := t.config().MaxIDsPerSession
	sh := t.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := live.s
	if s == nil || s.gone {
		s = sh.sessions.get(k)
	}
	if s == nil && !create {
		return false, false
	}
	found = s != nil
	var what change
	urgent := s == nil
	if s == nil {
		what = changeRecord
		s = &session{key: k, started: now}
		sh.sessions.put(s)
		t.live.Add(1)
		created = true
	}
	if s.requests < 2 {
		s.requests++
	}
	if now.After(s.lastSeen) {
		s.lastSeen = now
		if s.lastSeen.Sub(s.savedSeen) >= t.seenResolution() {
			what = changeRecord
		}
	}
	if user != "" && user != s.user {
		s.user = user
		what, urgent = changeRecord, true
	}
	for _, id := range ids {
		what |= t.add(s, id, user, limit)
	}
	if what != 0 {
		sh.mark(k, what)
		if t.notify != nil {
			t.notify(urgent)
		}
	}
	return found, created
}

// idSeed seeds idHash; it is random per process and never leaves it.
var idSeed = maphash.MakeSeed()

// idHash is the hash add compares before an ID's bytes.
func idHash(id string) uint64 { return maphash.String(idSeed, id) }

// add keeps id once per session, up to limit entries (0: no limit), and
// returns what the store must learn: changeAppend for a new entry,
// changeRecord when a held entry gains its user, 0 for nothing. Sessions
// hold few IDs, so a linear scan of their hashes beats a map in both
// time and memory.
func (t *Tracker) add(s *session, id, user string, limit int) change {
	h := idHash(id)
	for i, held := range s.idHashes {
		if held == h && s.entries[i].ID == id {
			if s.entries[i].User == "" && user != "" {
				s.entries[i].User = user
				return changeRecord
			}
			return 0
		}
	}
	if limit > 0 && len(s.entries) >= limit {
		t.refusedIDs.Add(1)
		return 0
	}
	s.entries = append(s.entries, Entry{ID: id, User: user})
	s.idHashes = append(s.idHashes, h)
	return changeAppend
}

// rotate moves the session under from to the key to, merging with a
// session already there.
func (t *Tracker) rotate(now time.Time, from, to Key) {
	t.moving.RLock()
	defer t.moving.RUnlock()
	src := t.shardOf(from)
	src.mu.Lock()
	s := src.sessions.remove(from)
	if s != nil {
		s.gone = true
		src.mark(from, changeMoved)
		t.live.Add(-1)
	}
	src.mu.Unlock()
	if s == nil {
		return
	}
	t.rotated.note(from, to, now)

	dst := t.shardOf(to)
	dst.mu.Lock()
	defer dst.mu.Unlock()
	dst.mark(to, changeRecord)
	if t.notify != nil {
		t.notify(true)
	}
	existing := dst.sessions.get(to)
	if existing == nil {
		// A copy: a Live of the old key must not reach it.
		moved := *s
		moved.key, moved.gone = to, false
		dst.sessions.put(&moved)
		t.live.Add(1)
		return
	}
	// The session under to keeps its start, which tells its stored
	// record from another session's under the same key (the store
	// deletes an ended session's record by key and start); a merged
	// session's earlier start therefore does not shorten max_lifetime.
	if existing.user == "" {
		existing.user = s.user
	}
	// Entries once accepted are kept, whatever the limit.
	for _, e := range s.entries {
		t.add(existing, e.ID, e.User, 0)
	}
}

// end removes the session of obs.Key after adding the observation's IDs.
func (t *Tracker) end(now time.Time, obs Observation) *Ended {
	reason := ReasonCookieDeleted
	if obs.Logout {
		reason = ReasonLogout
	}
	limit := t.config().MaxIDsPerSession
	sh := t.shardOf(obs.Key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := t.drop(sh, obs.Key)
	if s == nil {
		if len(obs.IDs) == 0 {
			return nil
		}
		s = &session{key: obs.Key, started: now}
	}
	s.lastSeen = now
	if obs.User != "" {
		s.user = obs.User
	}
	for _, id := range obs.IDs {
		t.add(s, id, obs.User, limit)
	}
	return t.ending(s, obs.Key, reason)
}

func (s *session) ended(k Key, reason Reason) *Ended {
	return &Ended{
		Key:      k,
		Reason:   reason,
		User:     s.user,
		Started:  s.started,
		LastSeen: s.lastSeen,
		Entries:  s.entries,
	}
}

// Sweep ends and returns the sessions that went idle or outlived the
// maximum lifetime at now.
func (t *Tracker) Sweep(now time.Time) []Ended {
	t.rotated.prune(now)
	cfg := t.config()
	var out []Ended
	type over struct {
		s      *session
		reason Reason
	}
	var due []over
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		due = due[:0]
		sh.sessions.all(func(s *session) { // the table must not change while walked
			switch {
			case cfg.MaxLifetime > 0 && now.Sub(s.started) >= cfg.MaxLifetime:
				due = append(due, over{s, ReasonMaxLifetime})
			case cfg.IdleTimeout > 0 && now.Sub(s.lastSeen) >= cfg.IdleTimeout:
				due = append(due, over{s, ReasonIdle})
			}
		})
		for _, o := range due {
			t.drop(sh, o.s.key)
			out = append(out, *t.ending(o.s, o.s.key, o.reason))
		}
		sh.mu.Unlock()
	}
	return out
}

// User returns the user that the live session k holds ("" if none, or
// if k is not live).
func (t *Tracker) User(k Key) string {
	sh := t.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s := sh.sessions.get(k); s != nil {
		return s.user
	}
	return ""
}

// Has reports whether k is a live session.
func (t *Tracker) Has(k Key) bool {
	sh := t.shardOf(k)
	sh.mu.Lock()
	ok := sh.sessions.get(k) != nil
	sh.mu.Unlock()
	return ok
}
