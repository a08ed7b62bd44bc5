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

// BenchmarkSweep is one sweep of n live sessions of which none is due:
// the work the sweep worker does every sweep_interval, one shard lock at
// a time (requests of the other shards go on meanwhile).
func BenchmarkSweep(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			tr := New(Config{IdleTimeout: 30 * time.Minute, MaxLifetime: 12 * time.Hour})
			h := NewHasher([]byte("sweep-benchmark-secret-32-bytes!"))
			for i := range n {
				tr.Observe(t0, Observation{Key: h.Key(fmt.Sprintf("S%d", i)), HasKey: true, User: "alice",
					IDs: []string{fmt.Sprintf("webform@@@OrderWAC/form_orderentry(2)_orderapp@@@%d.xml", i)}})
			}
			now := t0.Add(time.Minute)
			b.ReportAllocs()
			for b.Loop() {
				if ended := tr.Sweep(now); len(ended) != 0 {
					b.Fatalf("%d sessions ended, want none", len(ended))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/shardCount, "ns/shard-lock")
		})
	}
}
