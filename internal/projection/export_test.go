package projection

// Stale reports whether the next Result will refold the session (tests only).
func (pr *Projector) Stale() bool { return pr.stale }

// Rebuilds is how many times the Projector built its view from the whole fold (tests only).
func (pr *Projector) Rebuilds() int { return pr.rebuilds }
