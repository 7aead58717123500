package projection

// Stale reports whether the next Result will refold the session (tests only).
func (pr *Projector) Stale() bool { return pr.stale }
