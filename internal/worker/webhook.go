package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// poster delivers webhook bodies, retrying what may succeed later.
type poster struct {
	client   *http.Client
	attempts int
	backoff  time.Duration
}

func newPoster(timeout time.Duration, attempts int, backoff time.Duration) *poster {
	return &poster{client: &http.Client{
		Timeout: timeout,
		// A webhook that redirects is misconfigured; following it could post elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, attempts: attempts, backoff: backoff}
}

// errPermanent marks a failure that retrying cannot fix.
var errPermanent = errors.New("permanent")

// deliver posts body to url until it is accepted (2xx), fails permanently (a 4xx other
// than 408 and 429: the receiver refuses this request) or the attempts run out, waiting
// backoff, then twice as long, between tries. It returns how many tries it made.
func (p *poster) deliver(ctx context.Context, url string, body []byte) (int, error) {
	wait := p.backoff
	var err error
	for i := 1; i <= p.attempts; i++ {
		if err = p.post(ctx, url, body); err == nil || errors.Is(err, errPermanent) {
			return i, err
		}
		if i == p.attempts {
			break
		}
		select {
		case <-ctx.Done():
			return i, fmt.Errorf("deliver webhook: %w (last: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		wait *= 2
	}
	return p.attempts, fmt.Errorf("deliver webhook: gave up after %d attempts: %w", p.attempts, err)
}

func (p *poster) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "agent-trace-server")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests:
		return fmt.Errorf("%w: receiver answered %s", errPermanent, resp.Status)
	default:
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
}
