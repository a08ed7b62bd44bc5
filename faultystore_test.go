package inubitsessions

import (
	"errors"
	"math/rand"
	"sync"
	"sync/atomic"

	"github.com/inubit-caddy/caddy-inubit-sessions/store"
)

// errInjected is the error of a commit a faultyStore fails.
var errInjected = errors.New("injected: disk full")

// faultyStore fails commits on demand: every one while failAll is set,
// those with Fold set (the stop's write) while failFold is set, and,
// with rng set, a random share of them (from one goroutine only).
// foldFailed, if not nil, is closed when a folding commit first fails.
// AdoptOrphans fails while failAll is set, too.
type faultyStore struct {
	store.Store
	failAll, failFold atomic.Bool
	foldFailed        chan struct{}
	closeOnce         sync.Once
	rng               *rand.Rand
	share             float64
}

func (f *faultyStore) Commit(b store.Batch) (map[string]int, error) {
	if b.Fold && f.failFold.Load() {
		if f.foldFailed != nil {
			f.closeOnce.Do(func() { close(f.foldFailed) })
		}
		return nil, errInjected
	}
	if f.failAll.Load() || f.rng != nil && f.rng.Float64() < f.share {
		return nil, errInjected
	}
	return f.Store.Commit(b)
}

func (f *faultyStore) AdoptOrphans(user string) (int, error) {
	if f.failAll.Load() {
		return 0, errInjected
	}
	return f.Store.AdoptOrphans(user)
}

// swapFaulty puts a faultyStore in front of st's store (flush reads
// st.store only under flushMu).
func swapFaulty(st *state) *faultyStore {
	st.flushMu.Lock()
	defer st.flushMu.Unlock()
	f := &faultyStore{Store: st.store}
	st.store = f
	return f
}
