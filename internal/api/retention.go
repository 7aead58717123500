package api

import (
	"context"
	"fmt"
	"time"
)

// runRetention erases expired sessions now and then every interval until ctx ends.
func (a *API) runRetention(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := a.EnforceRetention(ctx); err != nil {
			a.log.Error("retention", "err", err)
		} else if n > 0 {
			a.log.Info("retention erased sessions", "count", n, "days", a.opts.RetentionDays)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// EnforceRetention erases every session whose last event is older than RetentionDays
// and returns how many it erased; with no retention set it does nothing.
func (a *API) EnforceRetention(ctx context.Context) (int, error) {
	if a.opts.RetentionDays <= 0 {
		return 0, nil
	}
	cutoff := time.Now().Add(-time.Duration(a.opts.RetentionDays) * 24 * time.Hour)
	n, err := a.store.DeleteBefore(ctx, cutoff)
	if err != nil {
		a.metrics.storeErrors.WithLabelValues("retention").Inc()
		return 0, fmt.Errorf("enforce retention: %w", err)
	}
	return n, nil
}
