package sessiontracker

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkObserveKnownID is a request that shows an ID its session
// already holds (a form's every request carries it), in sessions holding
// 1, 32 and 256 IDs (the default bound), the ID being the last one kept.
func BenchmarkObserveKnownID(b *testing.B) {
	for _, held := range []int{1, 32, 256} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			k, _, _ := testKeys()
			tr := New(Config{})
			for i := range held {
				tr.Observe(t0, Observation{Key: k, HasKey: true, User: "alice",
					IDs: []string{fmt.Sprintf("webform@@@OrderWAC/form_orderentry(2)_orderapp@@@%d.xml", 10000+i)}})
			}
			ids := []string{fmt.Sprintf("webform@@@OrderWAC/form_orderentry(2)_orderapp@@@%d.xml", 10000+held-1)}
			now := t0.Add(time.Second)
			b.ReportAllocs()
			for b.Loop() {
				live, _ := tr.Touch(now, k)
				tr.Observe(now, Observation{Key: k, HasKey: true, User: "alice", IDs: ids, Live: live})
			}
		})
	}
}
