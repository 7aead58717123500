package export

import (
	"fmt"
	"net/http"
	"time"
)

// Serve streams req to w as a download (Content-Disposition: attachment). When the
// export fails before its first byte, nothing has been written yet and fail is called
// to answer in the caller's own way (a problem document, an error page). A failure
// after the first byte can only cut the stream short: Serve returns it for the log. A
// client that went away is no failure.
func Serve(w http.ResponseWriter, r *http.Request, rd Reader, req Request, fail func(error)) error {
	name := fmt.Sprintf("agent-trace-%s-%s.%s", req.Table, time.Now().UTC().Format("20060102-150405"), req.Format)
	out := &lazyDownload{w: w, name: name, contentType: ContentType(req.Format)}
	err := Write(r.Context(), out, rd, req)
	switch {
	case err == nil && !out.started:
		out.start() // an empty export: JSON Lines has no line at all
	case err != nil && r.Context().Err() != nil:
		return nil // the client left; nobody reads the rest
	case err != nil && !out.started:
		fail(err)
		return nil
	}
	return err
}

// lazyDownload sends the download headers with the first byte, so an export that fails
// before writing anything can still answer with an error instead of a 200.
type lazyDownload struct {
	w                 http.ResponseWriter
	name, contentType string
	started           bool
}

func (d *lazyDownload) start() {
	d.started = true
	h := d.w.Header()
	h.Set("Content-Type", d.contentType)
	h.Set("Content-Disposition", `attachment; filename="`+d.name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	d.w.WriteHeader(http.StatusOK)
}

func (d *lazyDownload) Write(p []byte) (int, error) {
	if !d.started {
		d.start()
	}
	return d.w.Write(p)
}
