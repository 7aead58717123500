package auth

import (
	"errors"
	"net/url"
	"strings"
)

// ErrCrossSite refuses a state-changing request a browser sent on behalf of another
// site or port.
var ErrCrossSite = errors.New("cross-site request refused: state-changing requests must come from this origin or from a non-browser client")

// There are two same-origin rules because the two edges serve different clients. Both
// refuse any request a browser says came from elsewhere; they differ only in what a
// request that names no source at all (no Origin, no Referer) means:
//
//   - NotCrossSite (the API): hooks, curl and scripts send no browser headers, and they
//     are the API's main clients, so such a request is admitted.
//   - SameOrigin (the dashboard's login and logout forms): only a browser posts them, and
//     every current browser sends Origin on a POST, so a request without a source is
//     refused rather than assumed harmless.
//
// The headers checked cannot be set by page script (Sec-Fetch-*, Origin, Referer are
// forbidden header names) and X-Forwarded-Host cannot be added cross-origin without a
// CORS preflight, which neither edge ever grants; so a page cannot forge its way past.

// NotCrossSite is the rule for API writes: nil unless a browser says the request came
// from another site, another port of this host, or an opaque origin. It is enforced even
// when auth is off, so a web page cannot write events into a local server.
func NotCrossSite(header func(name string) string, host string) error {
	return checkOrigin(header, host, false)
}

// SameOrigin is the rule for the dashboard's forms: nil only when the browser shows the
// request came from this origin. Login CSRF (another site logging the browser in with
// the attacker's token) and forced logout need no cookie, so a SameSite=Strict cookie
// does not stop them; this does. Page script cannot forge the headers it reads, so a
// hidden per-form token would add nothing for browsers.
func SameOrigin(header func(name string) string, host string) error {
	return checkOrigin(header, host, true)
}

// checkOrigin applies the shared rule. header reads a request header (http.Header.Get,
// huma.Context.Header); host is the request's Host.
func checkOrigin(header func(string) string, host string, requireSource bool) error {
	switch header("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default: // same-site (a sibling subdomain or port) and cross-site
		return ErrCrossSite
	}
	src := header("Origin")
	if src == "" {
		// Privacy settings may drop Origin but keep Referer; it names the source as well.
		src = header("Referer")
	}
	if src == "" {
		if requireSource {
			return ErrCrossSite
		}
		return nil
	}
	if src == "null" {
		return ErrCrossSite
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ErrCrossSite
	}
	if strings.EqualFold(u.Host, host) {
		return nil
	}
	// Behind a reverse proxy that rewrites Host, the browser's origin is the proxy's
	// public name, which the proxy passes on as X-Forwarded-Host (the first one is the
	// client-facing proxy).
	fwd, _, _ := strings.Cut(header("X-Forwarded-Host"), ",")
	if fwd = strings.TrimSpace(fwd); fwd != "" && strings.EqualFold(u.Host, fwd) {
		return nil
	}
	return ErrCrossSite
}
