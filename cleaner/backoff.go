package cleaner

import (
	"math/rand/v2"
	"time"
)

// backoff returns the wait after attempts failures: min doubled per
// failure, capped at max, with jitter that spreads retries over the upper
// half of that span, never below min, so that many queued users do not
// retry in step.
func backoff(attempts int, minWait, maxWait time.Duration) time.Duration {
	d := minWait
	for i := 1; i < attempts && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	half := d / 2
	if half <= 0 {
		return d
	}
	return max(half+rand.N(half+1), minWait)
}
